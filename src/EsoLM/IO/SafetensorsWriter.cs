using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace EsoLM.IO;

/// <summary>
/// Writes F32 tensors in the safetensors format: the JSON header (metadata first, then tensors in the given
/// order) padded with spaces so the data region starts at an 8-byte-aligned offset, then the tensors' bytes,
/// contiguous and little-endian.
/// </summary>
internal static class SafetensorsWriter
{
    private const int ChunkFloats = 1 << 14;

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Keep non-ASCII text as UTF-8 rather than \u escapes; the header is not HTML, so relaxed escaping is safe.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
        SkipValidation = false,
    };

    /// <summary>Atomically writes <paramref name="tensors"/> (and optional <paramref name="metadata"/>) to <paramref name="path"/>.</summary>
    /// <param name="path">The destination file; replaced only once the new one is complete.</param>
    /// <param name="tensors">The tensors, in the order to store them.</param>
    /// <param name="metadata">String metadata for the <c>__metadata__</c> entry, or <see langword="null"/> for none.</param>
    /// <exception cref="ArgumentException">A name is empty, reserved or repeated, or a shape does not match its data.</exception>
    public static void Write(string path, IEnumerable<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);

        // Validate and build the header before touching the file system.
        var list = tensors.ToList();
        var header = BuildHeader(list, metadata);
        AtomicFile.Write(path, stream => WriteCore(stream, header, list));
    }

    /// <summary>Writes <paramref name="tensors"/> (and optional <paramref name="metadata"/>) to <paramref name="stream"/> at its current position.</summary>
    /// <param name="stream">A writable stream; left open.</param>
    /// <param name="tensors">The tensors, in the order to store them.</param>
    /// <param name="metadata">String metadata for the <c>__metadata__</c> entry, or <see langword="null"/> for none.</param>
    /// <exception cref="ArgumentException">A name is empty, reserved or repeated, or a shape does not match its data.</exception>
    public static void Write(Stream stream, IEnumerable<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(tensors);
        if (!stream.CanWrite)
        {
            throw new ArgumentException("The stream must be writable.", nameof(stream));
        }

        var list = tensors.ToList();
        var header = BuildHeader(list, metadata);
        WriteCore(stream, header, list);
    }

    private static byte[] BuildHeader(List<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            if (metadata is not null && metadata.Count > 0)
            {
                json.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    ArgumentNullException.ThrowIfNull(key, nameof(metadata));
                    if (value is null)
                    {
                        throw new ArgumentException($"Metadata value for key '{key}' is null.", nameof(metadata));
                    }

                    json.WriteString(key, value);
                }

                json.WriteEndObject();
            }

            long offset = 0;
            for (var i = 0; i < tensors.Count; i++)
            {
                var t = tensors[i];
                if (string.IsNullOrEmpty(t.Name))
                {
                    throw new ArgumentException($"Tensor #{i} has a null or empty name.", nameof(tensors));
                }

                if (t.Name == SafetensorsHeader.MetadataKey)
                {
                    throw new ArgumentException($"Tensor #{i} uses the reserved name '{SafetensorsHeader.MetadataKey}'.", nameof(tensors));
                }

                if (!names.Add(t.Name))
                {
                    throw new ArgumentException($"Tensor name '{t.Name}' appears more than once.", nameof(tensors));
                }

                if (t.Shape is null)
                {
                    throw new ArgumentException($"Tensor '{t.Name}' has a null shape.", nameof(tensors));
                }

                long count = 1;
                foreach (var d in t.Shape)
                {
                    if (d < 0)
                    {
                        throw new ArgumentException($"Tensor '{t.Name}' has negative dimension {d} in shape {TensorInfo.FormatShape(t.Shape)}.", nameof(tensors));
                    }

                    count = checked(count * d);
                }

                if (count != t.Data.Length)
                {
                    throw new ArgumentException(
                        $"Tensor '{t.Name}' has shape {TensorInfo.FormatShape(t.Shape)} ({count} elements) but {t.Data.Length} data elements.",
                        nameof(tensors));
                }

                var end = offset + (count * sizeof(float));
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (var d in t.Shape)
                {
                    json.WriteNumberValue(d);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(end);
                json.WriteEndArray();
                json.WriteEndObject();
                offset = end;
            }

            json.WriteEndObject();
        }

        // Pad with spaces so that 8 + header length is a multiple of 8: the data region starts 8-byte aligned.
        var length = buffer.WrittenCount;
        var padded = (length + 7) & ~7;
        if (padded > SafetensorsHeader.MaxHeaderLength)
        {
            throw new ArgumentException(
                $"The header would be {padded} bytes, above the {SafetensorsHeader.MaxHeaderLength}-byte limit readers accept; store less metadata.",
                nameof(metadata));
        }

        var header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return header;
    }

    private static void WriteCore(Stream stream, byte[] header, List<NamedTensor> tensors)
    {
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        stream.Write(prefix);
        stream.Write(header);
        foreach (var t in tensors)
        {
            var data = t.Data.Span;
            if (BitConverter.IsLittleEndian)
            {
                stream.Write(MemoryMarshal.AsBytes(data));
                continue;
            }

            var chunk = ArrayPool<int>.Shared.Rent(ChunkFloats);
            try
            {
                for (var done = 0; done < data.Length; done += ChunkFloats)
                {
                    var n = Math.Min(ChunkFloats, data.Length - done);
                    var bits = MemoryMarshal.Cast<float, int>(data.Slice(done, n));
                    BinaryPrimitives.ReverseEndianness(bits, chunk.AsSpan(0, n));
                    stream.Write(MemoryMarshal.AsBytes(chunk.AsSpan(0, n)));
                }
            }
            finally
            {
                ArrayPool<int>.Shared.Return(chunk);
            }
        }

        stream.Flush();
    }
}
