namespace EsoLM.IO;

/// <summary>Writes files atomically: readers see either the old file or the complete new one, never a partial write.</summary>
public static class AtomicFile
{
    private const int BufferSize = 1 << 20;

    /// <summary>
    /// Writes <paramref name="path"/> by calling <paramref name="write"/> on a temporary file in the same folder,
    /// flushing it to disk, then moving it over <paramref name="path"/> (replacing any existing file). If
    /// <paramref name="write"/> or the flush throws, the temporary file is deleted and the existing file is untouched.
    /// </summary>
    /// <param name="path">The destination file; its folder must exist.</param>
    /// <param name="write">Writes the content; must not dispose the stream it is given.</param>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);

        var fullPath = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(fullPath) ?? throw new ArgumentException($"Path '{path}' has no parent folder.", nameof(path));
        var temp = Path.Combine(folder, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void TryDelete(string temp)
    {
        try
        {
            File.Delete(temp);
        }
        catch (IOException)
        {
            // Best effort: the original exception matters more.
        }
        catch (UnauthorizedAccessException)
        {
            // Best effort, as above.
        }
    }
}
