using System.Buffers.Binary;
using System.Text;

namespace EsoLM.Tests.IO;

/// <summary>A temporary folder for hand-made safetensors files, deleted on dispose.</summary>
public sealed class SafetensorsTestFiles : IDisposable
{
    public SafetensorsTestFiles()
    {
        Folder = Path.Combine(Path.GetTempPath(), "esolm-io-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Folder);
    }

    public string Folder { get; }

    /// <summary>8-byte little-endian length (of <paramref name="header"/> unless overridden), the header, then <paramref name="data"/>.</summary>
    public static byte[] Raw(byte[] header, byte[]? data = null, ulong? lengthOverride = null)
    {
        data ??= [];
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, lengthOverride ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    public static byte[] Raw(string header, byte[]? data = null, ulong? lengthOverride = null) =>
        Raw(Encoding.UTF8.GetBytes(header), data, lengthOverride);

    /// <summary>Writes <paramref name="bytes"/> to a new file in the folder and returns its path.</summary>
    public string Save(byte[] bytes, string name = "t.safetensors")
    {
        var path = Path.Combine(Folder, Guid.NewGuid().ToString("N")[..8] + "-" + name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    public string File(string name) => System.IO.Path.Combine(Folder, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
