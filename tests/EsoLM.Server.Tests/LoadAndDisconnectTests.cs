using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EsoLM.Server.Serving;
using Microsoft.Extensions.DependencyInjection;

namespace EsoLM.Server.Tests;

/// <summary>A model slow enough that a request is still running while the test acts: a full queue, and a client that leaves.</summary>
public sealed class LoadAndDisconnectTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("esolm-serve-slow-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // MDLM over ~1000 positions with 4096 steps: tens of seconds of work on one thread, unless it is cancelled.
    private static object LongRequest => new
    {
        max_tokens = 1000, sampler = "mdlm", steps = 4096, seed = 1, messages = new object[] { new { role = "user", content = "go" } },
    };

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting until {what}.");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task A_full_queue_answers_429_and_a_departed_client_stops_its_generation()
    {
        var model = ServerFixture.TinyModel(_dir, context: 1024, hidden: 128, layers: 2);
        var (app, address) = await ServerFixture.StartAsync(model, new EsoLmServerOptions { MaxQueueLength = 1 });
        await using var _ = app;
        var metrics = app.Services.GetRequiredService<ServerMetrics>();
        var statuses = new List<int>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ServerMetrics.MeterName && instrument.Name == "esolm.server.requests")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "status")
                {
                    lock (statuses)
                    {
                        statuses.Add((int)tag.Value!);
                    }
                }
            }
        });
        listener.Start();

        using var http = new HttpClient { BaseAddress = address, Timeout = Timeout.InfiniteTimeSpan };
        using var leave = new CancellationTokenSource();
        var slow = http.PostAsJsonAsync("/v1/chat/completions", LongRequest, leave.Token);
        await WaitUntil(() => metrics.QueueLength == 1, "the long request is admitted");

        using (var second = await http.PostAsJsonAsync("/v1/chat/completions", new { messages = new object[] { new { role = "user", content = "hi" } } }))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
            using var json = JsonDocument.Parse(await second.Content.ReadAsStringAsync());
            Assert.Equal("queue_full", json.RootElement.GetProperty("error").GetProperty("code").GetString());
        }

        await Task.Delay(300);
        await leave.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slow);

        // The server notices the disconnect and cancels the sampler: the request is released with status 499 long before
        // the tens of seconds its generation would take.
        await WaitUntil(() => metrics.QueueLength == 0, "the departed request's generation stops");
        await WaitUntil(() => { lock (statuses) { return statuses.Contains(499); } }, "the request is recorded as closed by the client");

        using var after = await http.PostAsJsonAsync("/v1/chat/completions", new { max_tokens = 4, messages = new object[] { new { role = "user", content = "hi" } } });
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }
}
