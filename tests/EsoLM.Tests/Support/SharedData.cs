namespace EsoLM.Tests.Support;

/// <summary>
/// Locates the read-only <c>shared/</c> folder that sits beside the repository (golden vectors, GPT-2 vocabulary).
/// Tests read it in place; nothing from it is copied into the repository. ESOLM_SHARED overrides the search.
/// </summary>
internal static class SharedData
{
    private static readonly Lazy<string> Root = new(Find);

    public static string Path => Root.Value;

    public static string Golden => System.IO.Path.Combine(Path, "golden");

    public static string Reference => System.IO.Path.Combine(Path, "golden", "reference");

    public static string Gpt2Vocabulary => System.IO.Path.Combine(Path, "data", "gpt2");

    private static string Find()
    {
        var fromEnv = Environment.GetEnvironmentVariable("ESOLM_SHARED");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return fromEnv;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "shared", "golden");
            if (Directory.Exists(candidate))
            {
                return System.IO.Path.Combine(dir.FullName, "shared");
            }
        }

        throw new DirectoryNotFoundException(
            "Could not find the shared/ folder (golden vectors) above " + AppContext.BaseDirectory + "; set ESOLM_SHARED.");
    }
}
