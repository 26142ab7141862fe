using System.Text.RegularExpressions;
using EsoLM.Tests.PublicApi;

namespace EsoLM.Tests.Samples;

/// <summary>Every ```csharp block in docs/ must appear verbatim (modulo indentation) in a sample or test that CI compiles.</summary>
public sealed partial class DocsSnippetTests
{
    [GeneratedRegex("```csharp\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

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
        int blocks = 0;
        foreach (var doc in Directory.EnumerateFiles(Path.Combine(root, "docs"), "*.md", SearchOption.AllDirectories))
        {
            foreach (Match m in CodeBlock().Matches(File.ReadAllText(doc).ReplaceLineEndings("\n")))
            {
                blocks++;
                var code = Normalize(m.Groups[1].Value);
                if (!sources.Any(s => s.Contains(code, StringComparison.Ordinal)))
                {
                    missing.Add($"{Path.GetRelativePath(root, doc)}:\n{m.Groups[1].Value}");
                }
            }
        }

        Assert.True(blocks >= 5, $"expected the docs to hold code blocks, found {blocks}");
        Assert.True(missing.Count == 0, "Doc code blocks not found in any sample or test:\n" + string.Join("\n---\n", missing));
    }

    private static string Normalize(string text) =>
        string.Join("\n", text.ReplaceLineEndings("\n").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));
}
