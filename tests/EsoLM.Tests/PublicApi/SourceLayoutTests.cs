using System.Text.RegularExpressions;

namespace EsoLM.Tests.PublicApi;

/// <summary>
/// The source layout rules of src/: one folder per concept with the namespace named after it, one public type per file,
/// and the API baseline guarded by a test that compares (it never rewrites). Checked on the files themselves, so a new
/// file that breaks a rule fails here with its path.
/// </summary>
public sealed partial class SourceLayoutTests
{
    // Files that still hold several public types, in folders other helpers own (to be split by their owners). The rule
    // holds for every other file, and a file listed here that no longer breaks it is simply no longer reported.
    private static readonly HashSet<string> KnownSeveralPublicTypes = new(StringComparer.Ordinal)
    {
        "src/EsoLM.ML/EsoLmOptions.cs",
        "src/EsoLM.TorchSharp/TorchBackendOptions.cs",
    };

    [Fact]
    public void Namespaces_follow_folders()
    {
        var wrong = new List<string>();
        foreach (var (relative, text) in SourceFiles())
        {
            var ns = NamespaceLine().Match(text);
            Assert.True(ns.Success, $"{relative} has no file-scoped namespace.");
            var name = ns.Groups[1].Value;
            if (name == "Microsoft.Extensions.DependencyInjection")
            {
                continue; // the convention for IServiceCollection/builder extension methods
            }

            var parts = relative.Split('/');                      // src/<Project>/<Folder>/.../<File>.cs
            var expected = string.Join('.', parts[1..^1]);
            if (name != expected)
            {
                wrong.Add($"{relative}: namespace {name}, folder says {expected}");
            }
        }

        Assert.True(wrong.Count == 0, "Namespaces that do not follow their folder:\n" + string.Join('\n', wrong));
    }

    [Fact]
    public void Each_file_holds_at_most_one_public_type()
    {
        var several = new List<string>();
        foreach (var (relative, text) in SourceFiles())
        {
            var types = PublicTopLevelType().Matches(text).Select(m => m.Groups[1].Value).ToList();
            if (types.Count > 1 && !KnownSeveralPublicTypes.Contains(relative))
            {
                several.Add($"{relative}: {string.Join(", ", types)}");
            }
        }

        Assert.True(several.Count == 0, "Files with several public types (split them, one file per type):\n" + string.Join('\n', several));
    }

    [Fact]
    public void The_rules_see_the_files_they_check()
    {
        // Guards the two tests above against passing vacuously (a wrong root or pattern would find nothing).
        var files = SourceFiles().ToList();
        Assert.Contains(files, f => f.Relative == "src/EsoLM/Data/BuiltInLanguage.cs");
        var counts = files.Select(f => PublicTopLevelType().Count(f.Text)).ToList();
        Assert.True(counts.Sum() > 100, $"only {counts.Sum()} public types found in {files.Count} files");
        var (_, sampleText) = files.Single(f => f.Relative == "src/EsoLM/Backends/INetwork.cs");
        Assert.Equal(["INetwork"], PublicTopLevelType().Matches(sampleText).Select(m => m.Groups[1].Value));
    }

    [Fact]
    public void The_api_test_compares_and_never_rewrites_the_baseline()
    {
        var source = File.ReadAllText(Path.Combine(PublicApiTests.RepositoryRoot(), "tests", "EsoLM.Tests", "PublicApi", "PublicApiTests.cs"));
        Assert.DoesNotContain("GetEnvironmentVariable", source, StringComparison.Ordinal);
        Assert.DoesNotContain("File.WriteAllText(baselinePath", source, StringComparison.Ordinal);
    }

    [Fact]
    public void The_api_diff_lists_removed_and_added_lines_in_order()
    {
        const string Baseline = "class A\n  A::ctor()\nclass B\n  B::Int32 X { get; }\n";
        const string Actual = "class A\n  A::ctor()\n  A::Void Run()\nclass C\n";
        var diff = PublicApiTests.Diff(Baseline, Actual).ReplaceLineEndings("\n");
        Assert.Equal("- class B\n-   B::Int32 X { get; }\n+   A::Void Run()\n+ class C\n", diff);
        Assert.Equal(string.Empty, PublicApiTests.Diff(Baseline, Baseline));
    }

    private static IEnumerable<(string Relative, string Text)> SourceFiles()
    {
        var root = PublicApiTests.RepositoryRoot();
        var src = Path.Combine(root, "src");
        foreach (var path in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(root, path).Replace('\\', '/');
            if (relative.Contains("/obj/", StringComparison.Ordinal) || relative.Contains("/bin/", StringComparison.Ordinal))
            {
                continue;
            }

            yield return (relative, File.ReadAllText(path));
        }
    }

    [GeneratedRegex(@"^namespace\s+([\w.]+)\s*;", RegexOptions.Multiline)]
    private static partial Regex NamespaceLine();

    [GeneratedRegex(@"^public\s+(?:(?:sealed|static|abstract|readonly|partial|unsafe|ref)\s+)*(?:class|record\s+struct|record|struct|interface|enum|delegate\s+[\w<>\[\],.? ]+?)\s+(\w+)", RegexOptions.Multiline)]
    private static partial Regex PublicTopLevelType();
}
