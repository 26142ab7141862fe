using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace EsoLM.Docs.Tests;

/// <summary>
/// Serves the built docs site on loopback and opens it in headless Chromium: starting from the home page it visits every
/// page reachable through internal links, and fails on a page that does not load with status 200, shows no article
/// text, logs a console error or throws, on any failed or non-loopback request, on an internal link whose target does
/// not exist, and on a link to an anchor that its page does not have. Screenshots of the home page, one guide and one API
/// page are written to artifacts/docs-check/ (or ESOLM_DOCS_ARTIFACTS).
/// </summary>
public sealed class SiteBrowserCheck(ITestOutputHelper output)
{
    private static readonly string[] ChromiumFlags =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
    ];

    private const int Tabs = 4;

    private static readonly (string Name, string Path)[] Screenshots =
    [
        ("home", "/index.html"),
        ("guide", "/guide/concepts.html"),
        ("api", "/api/EsoLM.Masks.MaskRules.html"),
    ];

    [Fact]
    public async Task Every_page_renders_without_errors_and_every_internal_link_resolves()
    {
        string root = RepositoryRoot();
        string site = Path.GetFullPath(Environment.GetEnvironmentVariable("ESOLM_DOCS_SITE") ?? Path.Combine(root, "docs", "_site"));
        Assert.True(File.Exists(Path.Combine(site, "index.html")),
            $"The built site is missing: {site}/index.html does not exist. Build it first with scripts/docs.sh (dotnet docfx docs/docfx.json).");
        string chromium = Environment.GetEnvironmentVariable("ESOLM_CHROMIUM") ?? "/usr/bin/chromium";
        Assert.True(File.Exists(chromium), $"Chromium is missing: {chromium} does not exist. Install Debian's package: apt-get install -y chromium.");
        string artifacts = Environment.GetEnvironmentVariable("ESOLM_DOCS_ARTIFACTS") ?? Path.Combine(root, "artifacts", "docs-check");
        Directory.CreateDirectory(artifacts);

        await using var server = await StartServerAsync(site);
        string origin = server.Origin;
        var userData = Directory.CreateTempSubdirectory("esolm-docs-chromium-");
        var problems = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var started = DateTime.UtcNow;
        try
        {
            using var playwright = await Playwright.CreateAsync();
            await using var context = await playwright.Chromium.LaunchPersistentContextAsync(userData.FullName, new BrowserTypeLaunchPersistentContextOptions
            {
                ExecutablePath = chromium,
                Headless = true,
                Args = ChromiumFlags,
                ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
                Timeout = 60_000,
            });

            var pending = new Queue<string>(["/index.html"]);
            var linkedFrom = new Dictionary<string, string>(StringComparer.Ordinal) { ["/index.html"] = "(start)" };   // page → first page linking it
            var anchors = new ConcurrentDictionary<string, HashSet<string>>(StringComparer.Ordinal);   // page → its element ids
            var anchorLinks = new ConcurrentQueue<(string From, string Page, string Anchor)>();
            var resources = new ConcurrentDictionary<string, string>(StringComparer.Ordinal);          // non-page target → first page linking it
            int links = 0, busy = 0;
            var gate = new object();

            // A few tabs crawl in parallel (each page waits for network idle, so most of the time is waiting).
            async Task CrawlAsync()
            {
                var page = await context.NewPageAsync();
                string current = "/";
                // Nothing may leave loopback: a request to another host is aborted and reported.
                await page.RouteAsync("**/*", async route =>
                {
                    if (route.Request.Url.StartsWith(origin, StringComparison.Ordinal) || route.Request.Url.StartsWith("data:", StringComparison.Ordinal))
                    {
                        await route.ContinueAsync();
                    }
                    else
                    {
                        problems.Enqueue($"{current}: request outside the site: {route.Request.Url}");
                        await route.AbortAsync();
                    }
                });
                page.Console += (_, message) =>
                {
                    if (message.Type == "error")
                    {
                        problems.Enqueue($"{current}: console error: {message.Text}");
                    }
                };
                page.PageError += (_, error) => problems.Enqueue($"{current}: page error: {error}");
                page.RequestFailed += (_, request) => problems.Enqueue($"{current}: request failed: {request.Url} ({request.Failure})");
                page.Response += (_, response) =>
                {
                    if (response.Status >= 400)
                    {
                        problems.Enqueue($"{current}: HTTP {response.Status} for {response.Url}");
                    }
                };

                while (true)
                {
                    string? next = null;
                    lock (gate)
                    {
                        if (pending.Count > 0)
                        {
                            next = pending.Dequeue();
                            busy++;
                        }
                        else if (busy == 0)
                        {
                            return;
                        }
                    }

                    if (next is null)
                    {
                        await Task.Delay(50);
                        continue;
                    }

                    try
                    {
                        current = next;
                        await VisitAsync(page, current);
                    }
                    catch (PlaywrightException e)
                    {
                        string from;
                        lock (gate)
                        {
                            from = linkedFrom[current];
                        }

                        problems.Enqueue($"{current} (linked from {from}): {e.Message.Split('\n')[0]}");
                    }
                    finally
                    {
                        lock (gate)
                        {
                            busy--;
                        }
                    }
                }
            }

            async Task VisitAsync(IPage page, string current)
            {
                var response = await page.GotoAsync(origin + current, new PageGotoOptions { WaitUntil = WaitUntilState.NetworkIdle });
                if (response is null || response.Status != 200)
                {
                    string from;
                    lock (gate)
                    {
                        from = linkedFrom[current];
                    }

                    problems.Enqueue($"{current}: did not load (status {response?.Status.ToString() ?? "none"}), linked from {from}");
                    return;
                }

                var info = await page.EvaluateAsync<JsonElement>("""
                    () => ({
                      text: (document.querySelector('article') || document.body).innerText.trim().length,
                      ids: [...document.querySelectorAll('[id], a[name]')].map(e => e.id || e.getAttribute('name')),
                      links: [...document.querySelectorAll('a[href], img[src], link[href], script[src]')]
                        .map(e => e.href || e.src).filter(u => typeof u === 'string'),
                    })
                    """);
                if (info.GetProperty("text").GetInt32() == 0)
                {
                    problems.Enqueue($"{current}: rendered no article text");
                }

                anchors[current] = [.. info.GetProperty("ids").EnumerateArray().Select(e => e.GetString() ?? string.Empty)];
                foreach (var link in info.GetProperty("links").EnumerateArray().Select(e => e.GetString()!))
                {
                    if (!link.StartsWith(origin + "/", StringComparison.Ordinal))
                    {
                        continue;   // external links are not followed (and never fetched: see the route above)
                    }

                    Interlocked.Increment(ref links);
                    var uri = new Uri(link);
                    string path = Uri.UnescapeDataString(uri.AbsolutePath);
                    if (path.EndsWith('/'))
                    {
                        path += "index.html";
                    }

                    if (path.EndsWith(".html", StringComparison.Ordinal))
                    {
                        if (uri.Fragment.Length > 1)
                        {
                            anchorLinks.Enqueue((current, path, Uri.UnescapeDataString(uri.Fragment[1..])));
                        }

                        lock (gate)
                        {
                            if (linkedFrom.TryAdd(path, current))
                            {
                                pending.Enqueue(path);
                            }
                        }
                    }
                    else
                    {
                        resources.TryAdd(path, current);
                    }
                }

                foreach (var (name, shot) in Screenshots)
                {
                    if (shot == current)
                    {
                        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(artifacts, $"{name}.png") });
                    }
                }
            }

            await Task.WhenAll(Enumerable.Range(0, Tabs).Select(_ => CrawlAsync()));

            using var http = new HttpClient();
            foreach (var (path, from) in resources)
            {
                using var response = await http.GetAsync(new Uri(origin + path));
                if (!response.IsSuccessStatusCode)
                {
                    problems.Enqueue($"{from}: link to {path} gives HTTP {(int)response.StatusCode}");
                }
            }

            foreach (var (from, target, anchor) in anchorLinks)
            {
                if (anchors.TryGetValue(target, out var ids) && !ids.Contains(anchor))
                {
                    problems.Enqueue($"{from}: link to {target}#{anchor}: the page has no element with that id");
                }
            }

            foreach (var (name, path) in Screenshots)
            {
                if (!anchors.ContainsKey(path))
                {
                    problems.Enqueue($"the {name} page {path} is not reachable from the home page");
                }
            }

            int htmlFiles = Directory.EnumerateFiles(site, "*.html", SearchOption.AllDirectories).Count();
            var summary = new StringBuilder()
                .AppendLine($"docs browser check: {anchors.Count} pages rendered ({htmlFiles} .html files in the site), {links} internal links, " +
                            $"{anchorLinks.Count} anchor links, {resources.Count} other internal resources checked, {problems.Count} problems, " +
                            $"{(DateTime.UtcNow - started).TotalSeconds:F0} s")
                .AppendLine($"screenshots: {string.Join(", ", Screenshots.Select(s => Path.Combine(artifacts, s.Name + ".png")))}")
                .AppendJoin('\n', problems.Take(200))
                .ToString();
            await File.WriteAllTextAsync(Path.Combine(artifacts, "summary.txt"), summary);
            output.WriteLine(summary);
            Assert.True(anchors.Count >= 20, $"expected the site to have many pages, reached {anchors.Count}");
            Assert.True(problems.IsEmpty, summary);
        }
        finally
        {
            try
            {
                userData.Delete(recursive: true);
            }
            catch (IOException)
            {
                // Chromium may still hold a file for a moment; the folder is in the temp directory.
            }
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EsoLM.Net.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"EsoLM.Net.sln not found above {AppContext.BaseDirectory}");
    }

    private static async Task<SiteServer> StartServerAsync(string site)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = site });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var files = new PhysicalFileProvider(site);
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = files, ServeUnknownFileTypes = true });
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new SiteServer(app, address.TrimEnd('/'));
    }

    private sealed class SiteServer(WebApplication app, string origin) : IAsyncDisposable
    {
        public string Origin { get; } = origin;

        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
