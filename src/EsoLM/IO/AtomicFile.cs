using System.Runtime.InteropServices;

namespace EsoLM.IO;

/// <summary>Writes files atomically: readers see either the old file or the complete new one, never a partial write.</summary>
internal static partial class AtomicFile
{
    private const int BufferSize = 1 << 20;

    /// <summary>
    /// Writes <paramref name="path"/> by calling <paramref name="write"/> on a temporary file in the same folder,
    /// flushing it to disk, then moving it over <paramref name="path"/> (replacing any existing file) and flushing the
    /// folder (on Unix), so the rename itself survives a power loss. If <paramref name="write"/> or the flush throws, the
    /// temporary file is deleted and the existing file is untouched. Temporary files of this target left by a process
    /// that was killed mid-write are removed first (those another writer still holds open are left alone).
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
        RemoveLeftovers(folder, Path.GetFileName(fullPath));
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, BufferSize))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, fullPath, overwrite: true);
            FlushFolder(folder);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Deletes <c>.NAME.&lt;32 hex&gt;.tmp</c> files of this target that no writer holds open (a writer holds its temp file exclusively).</summary>
    private static void RemoveLeftovers(string folder, string name)
    {
        string prefix = "." + name + ".";
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(folder, ".*.tmp").ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }

        foreach (var file in candidates)
        {
            var fileName = Path.GetFileName(file);
            if (!fileName.StartsWith(prefix, StringComparison.Ordinal) || fileName.Length != prefix.Length + 32 + 4
                || !Guid.TryParseExact(fileName.AsSpan(prefix.Length, 32), "N", out _))
            {
                continue;
            }

            try
            {
                using (new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
                {
                    // Opened exclusively: no writer holds it, so it is debris of an interrupted write.
                }

                File.Delete(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // In use by another writer, or already gone.
            }
        }
    }

    /// <summary>fsync of the folder on Unix, so the rename is durable; best effort (no-op on Windows, where the move is journaled).</summary>
    private static void FlushFolder(string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        try
        {
            int fd = OperatingSystem.IsLinux() ? LinuxOpen(folder, 0) : UnixOpen(folder, 0);
            if (fd < 0)
            {
                return;
            }

            _ = OperatingSystem.IsLinux() ? LinuxFsync(fd) : UnixFsync(fd);
            _ = OperatingSystem.IsLinux() ? LinuxClose(fd) : UnixClose(fd);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // No libc to call: the file itself was flushed; only the rename's durability is not forced.
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LinuxOpen(string path, int flags);

    [LibraryImport("libc.so.6", EntryPoint = "fsync")]
    private static partial int LinuxFsync(int fd);

    [LibraryImport("libc.so.6", EntryPoint = "close")]
    private static partial int LinuxClose(int fd);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnixOpen(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int UnixFsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int UnixClose(int fd);

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
