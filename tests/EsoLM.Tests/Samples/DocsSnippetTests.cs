using System.Text.RegularExpressions;
using EsoLM.Tests.PublicApi;

namespace EsoLM.Tests.Samples;

/// <summary>
/// Docs cannot drift from the code. The docs site includes C# from compiled sources by region
/// (<c>[!code-csharp[](../../samples/X/Program.cs#region)]</c>): every include must name a file that CI compiles (samples/
/// or the test project, whose snippets run as tests) and a region that exists in it. A plain ```csharp block must appear
/// verbatim (modulo indentation) in such a file.
/// </summary>
public sealed partial class DocsSnippetTests
{
    [GeneratedRegex("```csharp\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    // A code include is block syntax: it stands at the start of a line (in `inline code` it is just text).
    [GeneratedRegex(@"^[ \t]*\[!code-(?:csharp|cs)\[[^\]]*\]\((?<path>[^)#\s]+)(?:#(?<region>[^)\s]+))?\)\]", RegexOptions.Multiline)]
    private static partial Regex CodeInclude();

    [Fact]
    public void Every_code_include_in_the_docs_names_a_compiled_file_and_an_existing_region()
    {
        var root = PublicApiTests.RepositoryRoot();
        string[] compiled = [Path.Combine(root, "samples") + Path.DirectorySeparatorChar, Path.Combine(root, "tests", "EsoLM.Tests") + Path.DirectorySeparatorChar];
        var problems = new List<string>();
        int includes = 0;
        foreach (var doc in Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md", SearchOption.AllDirectories))
        {
            foreach (Match m in CodeInclude().Matches(File.ReadAllText(doc)))
            {
                includes++;
                string where = $"{Path.GetRelativePath(root, doc)}: {m.Value}";
                string file = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(doc)!, m.Groups["path"].Value));
                if (!compiled.Any(c => file.StartsWith(c, StringComparison.Ordinal)))
                {
                    problems.Add($"{where}: {Path.GetRelativePath(root, file)} is not under samples/ or tests/EsoLM.Tests/ (snippets must come from code that CI builds and runs)");
                }
                else if (!File.Exists(file))
                {
                    problems.Add($"{where}: {Path.GetRelativePath(root, file)} does not exist");
                }
                else if (m.Groups["region"].Success)
                {
                    var lines = File.ReadAllLines(file).Select(l => l.Trim()).ToList();
                    int start = lines.IndexOf($"#region {m.Groups["region"].Value}");
                    if (start < 0 || !lines.Skip(start + 1).Any(l => l.StartsWith("#endregion", StringComparison.Ordinal)))
                    {
                        problems.Add($"{where}: no '#region {m.Groups["region"].Value}' … '#endregion' in {Path.GetRelativePath(root, file)}");
                    }
                }
            }
        }

        Assert.True(includes >= 10, $"expected the guides to include code from compiled sources, found {includes} includes");
        Assert.True(problems.Count == 0, "Broken code includes:\n" + string.Join("\n", problems));
    }

    [Fact]
    public void Every_csharp_block_in_the_docs_is_compiled_code()
    {
        var root = PublicApiTests.RepositoryRoot();
        var sources = Directory.EnumerateFiles(Path.Combine(root, "samples"), "*.cs", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Path.Combine(root, "tests", "EsoLM.Tests"), "*.cs", SearchOption.AllDirectories))
            .Concat(Directory.EnumerateFiles(Path.Combine(root, "tests", "EsoLM.TorchSharp.Tests"), "*.cs", SearchOption.AllDirectories))
            .Where(p => !p.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(p => Normalize(File.ReadAllText(p)))
            .ToList();
        var missing = new List<string>();
        foreach (var doc in Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md", SearchOption.AllDirectories))
        {
            foreach (Match m in CodeBlock().Matches(File.ReadAllText(doc).ReplaceLineEndings("\n")))
            {
                var code = Normalize(m.Groups[1].Value);
                if (!sources.Any(s => s.Contains(code, StringComparison.Ordinal)))
                {
                    missing.Add($"{Path.GetRelativePath(root, doc)}:\n{m.Groups[1].Value}");
                }
            }
        }

        Assert.True(missing.Count == 0, "Doc code blocks not found in any sample or test:\n" + string.Join("\n---\n", missing));
    }

    private static string Normalize(string text) =>
        string.Join("\n", text.ReplaceLineEndings("\n").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));
}
