#pragma warning disable CA2208 // Errors name the offending command-line option, not a method parameter.
namespace EsoLM.Cli;

/// <summary>Up-front checks of the paths a command reads and writes, so a bad path fails before any work.</summary>
internal static class CliFiles
{
    /// <summary>Throws unless <paramref name="path"/> is an existing file (a directory gets its own message).</summary>
    /// <param name="path">The path given.</param>
    /// <param name="option">The option that named it, e.g. <c>--model</c>.</param>
    /// <param name="what">What the file is, e.g. "Model file".</param>
    public static void RequireFile(string path, string option, string what)
    {
        if (Directory.Exists(path))
        {
            throw new ArgumentException($"{what} '{path}' ({option}) is a directory, not a file.", option);
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{what} '{path}' ({option}) does not exist.", path);
        }
    }

    /// <summary>Throws unless the folder that will hold <paramref name="path"/> exists and <paramref name="path"/> is not a directory.</summary>
    public static void RequireWritableTarget(string path, string option)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new ArgumentException($"{option} needs a file path.", option);
        }

        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new ArgumentException($"{option} '{path}' is a directory; give a file path.", option);
        }

        var folder = Path.GetDirectoryName(full);
        if (folder is null || !Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"The folder of {option} '{path}' does not exist: create '{folder}' first.");
        }
    }
}
