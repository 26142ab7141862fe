using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace EsoLM.IO;

/// <summary>
/// Parses and validates a safetensors JSON header with <see cref="Utf8JsonReader"/>, which (unlike
/// <see cref="JsonDocument"/>) lets every duplicate key be detected.
/// </summary>
internal static class SafetensorsHeader
{
    /// <summary>Largest header accepted, in bytes (100 MiB); larger ones are taken as corrupt.</summary>
    internal const long MaxHeaderLength = 100L * 1024 * 1024;

    /// <summary>The reserved key holding string metadata.</summary>
    internal const string MetadataKey = "__metadata__";

    private const int MaxValueTextInMessage = 60;

    private static readonly JsonReaderOptions ReaderOptions = new()
    {
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
        MaxDepth = 64,
    };

    /// <summary>
    /// Parses <paramref name="header"/> and checks every entry against a data region of
    /// <paramref name="dataLength"/> bytes. Returns the tensors in file order and the metadata.
    /// </summary>
    internal static (List<TensorInfo> Tensors, Dictionary<string, string> Metadata) Parse(
        ReadOnlySpan<byte> header, long dataLength, string? file)
    {
        if (!Utf8.IsValid(header))
        {
            throw Error(file, null, $"the header is not valid UTF-8 (first invalid byte at header offset {FirstInvalidUtf8(header)}).");
        }

        if (header.Trim(" \t\r\n"u8).IsEmpty)
        {
            throw Error(file, null, "the header is empty (only whitespace); expected a JSON object.");
        }

        var tensors = new List<TensorInfo>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        try
        {
            var reader = new Utf8JsonReader(header, ReaderOptions);
            Next(ref reader, file);
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                throw Error(file, null, $"the header must be a JSON object but is {Describe(ref reader)}.");
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            var sawMetadata = false;
            while (true)
            {
                Next(ref reader, file);
                if (reader.TokenType == JsonTokenType.EndObject)
                {
                    break;
                }

                var name = reader.GetString()!;
                Next(ref reader, file);
                if (name == MetadataKey)
                {
                    if (sawMetadata)
                    {
                        throw Error(file, null, $"the header has more than one '{MetadataKey}' entry.");
                    }

                    sawMetadata = true;
                    ParseMetadata(ref reader, metadata, file);
                }
                else
                {
                    if (!names.Add(name))
                    {
                        throw Error(file, name, "duplicate tensor name: the header lists it more than once.");
                    }

                    tensors.Add(ParseTensor(ref reader, name, file));
                }
            }

            if (reader.Read())
            {
                throw Error(file, null, $"unexpected {Describe(ref reader)} after the header's JSON object.");
            }
        }
        catch (JsonException ex)
        {
            throw Error(file, null, $"the header is not valid JSON: {ex.Message}", ex);
        }

        CheckRanges(tensors, dataLength, file);
        return (tensors, metadata);
    }

    internal static SafetensorsFormatException Error(string? file, string? tensor, string detail, Exception? inner = null) =>
        SafetensorsFormatException.Create(file, tensor, detail, inner);

    private static void Next(ref Utf8JsonReader reader, string? file)
    {
        if (!reader.Read())
        {
            throw Error(file, null, "the header's JSON ends unexpectedly.");
        }
    }

    private static void ParseMetadata(ref Utf8JsonReader reader, Dictionary<string, string> metadata, string? file)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw Error(file, null, $"'{MetadataKey}' must be a JSON object of string values but is {Describe(ref reader)}.");
        }

        while (true)
        {
            Next(ref reader, file);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                return;
            }

            var key = reader.GetString()!;
            Next(ref reader, file);
            if (reader.TokenType != JsonTokenType.String)
            {
                throw Error(file, null, $"'{MetadataKey}' value for key '{key}' must be a string but is {Describe(ref reader)}.");
            }

            if (!metadata.TryAdd(key, reader.GetString()!))
            {
                throw Error(file, null, $"'{MetadataKey}' has duplicate key '{key}'.");
            }
        }
    }

    private static TensorInfo ParseTensor(ref Utf8JsonReader reader, string name, string? file)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw Error(file, name, $"the header entry must be a JSON object with 'dtype', 'shape' and 'data_offsets' but is {Describe(ref reader)}.");
        }

        string? dtypeName = null;
        List<long>? shape = null;
        List<long>? offsets = null;
        var fields = new HashSet<string>(StringComparer.Ordinal);
        while (true)
        {
            Next(ref reader, file);
            if (reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }

            var field = reader.GetString()!;
            Next(ref reader, file);
            if (!fields.Add(field))
            {
                throw Error(file, name, $"field '{field}' appears more than once.");
            }

            switch (field)
            {
                case "dtype":
                    if (reader.TokenType != JsonTokenType.String)
                    {
                        throw Error(file, name, $"field 'dtype' must be a string but is {Describe(ref reader)}.");
                    }

                    dtypeName = reader.GetString()!;
                    break;
                case "shape":
                    shape = ReadIntegerArray(ref reader, name, "shape", file);
                    break;
                case "data_offsets":
                    offsets = ReadIntegerArray(ref reader, name, "data_offsets", file);
                    break;
                default:
                    reader.Skip(); // Unknown fields are ignored, as the reference implementation does.
                    break;
            }
        }

        if (dtypeName is null)
        {
            throw Error(file, name, "missing field 'dtype'.");
        }

        if (shape is null)
        {
            throw Error(file, name, "missing field 'shape'.");
        }

        if (offsets is null)
        {
            throw Error(file, name, "missing field 'data_offsets'.");
        }

        if (!TensorDataTypes.TryParse(dtypeName, out var dtype))
        {
            throw Error(file, name, $"field 'dtype' is '{Truncate(dtypeName)}', which is not supported (supported: {TensorDataTypes.SupportedList}).");
        }

        var dims = new int[shape.Count];
        long count = 1;
        var overflow = false;
        for (var i = 0; i < shape.Count; i++)
        {
            var d = shape[i];
            if (d < 0)
            {
                throw Error(file, name, $"field 'shape'[{i}] is {d}; dimensions must be non-negative.");
            }

            if (d > int.MaxValue)
            {
                throw Error(file, name, $"field 'shape'[{i}] is {d}, above the limit of {int.MaxValue} per dimension.");
            }

            dims[i] = (int)d;
            if (!overflow)
            {
                overflow = Math.BigMul(count, d, out count) != 0 || count < 0;
            }
        }

        var size = TensorDataTypes.SizeOf(dtype);
        if (overflow || count > long.MaxValue / size)
        {
            throw Error(file, name, $"field 'shape' {TensorInfo.FormatShape(shape)} has an element count that overflows the 64-bit byte size limit ({long.MaxValue} bytes).");
        }

        if (offsets.Count != 2)
        {
            throw Error(file, name, $"field 'data_offsets' must hold exactly 2 integers [begin, end] but holds {offsets.Count}.");
        }

        var (begin, end) = (offsets[0], offsets[1]);
        if (begin < 0 || end < 0)
        {
            throw Error(file, name, $"field 'data_offsets' [{begin}, {end}] must be non-negative.");
        }

        if (begin > end)
        {
            throw Error(file, name, $"field 'data_offsets' [{begin}, {end}] has begin after end.");
        }

        var bytes = count * size;
        if (end - begin != bytes)
        {
            throw Error(file, name, $"field 'data_offsets' [{begin}, {end}] spans {end - begin} bytes, but shape {TensorInfo.FormatShape(shape)} of {dtypeName} needs {count} × {size} = {bytes} bytes.");
        }

        return new TensorInfo(name, dtype, Array.AsReadOnly(dims), begin, end);
    }

    private static List<long> ReadIntegerArray(ref Utf8JsonReader reader, string name, string field, string? file)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw Error(file, name, $"field '{field}' must be an array of integers but is {Describe(ref reader)}.");
        }

        var values = new List<long>();
        while (true)
        {
            Next(ref reader, file);
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                return values;
            }

            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var value))
            {
                throw Error(file, name, $"field '{field}'[{values.Count}] is {Describe(ref reader)}; expected an integer in [{long.MinValue}, {long.MaxValue}].");
            }

            values.Add(value);
        }
    }

    private static void CheckRanges(List<TensorInfo> tensors, long dataLength, string? file)
    {
        foreach (var t in tensors)
        {
            if (t.End > dataLength)
            {
                throw Error(file, t.Name, $"field 'data_offsets' [{t.Begin}, {t.End}] ends past the data region, which holds {dataLength} bytes (file truncated?).");
            }
        }

        // Zero-length tensors occupy no bytes and overlap nothing; the others must be disjoint.
        var sorted = tensors.Where(t => t.End > t.Begin).OrderBy(t => t.Begin).ThenBy(t => t.End).ToList();
        TensorInfo? furthest = null;
        foreach (var t in sorted)
        {
            if (furthest is not null && t.Begin < furthest.End)
            {
                throw Error(file, t.Name, $"field 'data_offsets' [{t.Begin}, {t.End}] overlaps tensor '{furthest.Name}' at [{furthest.Begin}, {furthest.End}].");
            }

            if (furthest is null || t.End > furthest.End)
            {
                furthest = t;
            }
        }
    }

    private static string Describe(ref Utf8JsonReader reader)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.StartObject:
                return "an object";
            case JsonTokenType.StartArray:
                return "an array";
            case JsonTokenType.String:
                return $"the string \"{Truncate(reader.GetString()!)}\"";
            case JsonTokenType.Number:
                return "the number " + Truncate(Encoding.UTF8.GetString(reader.ValueSpan));
            case JsonTokenType.True:
                return "true";
            case JsonTokenType.False:
                return "false";
            case JsonTokenType.Null:
                return "null";
            default:
                return reader.TokenType.ToString();
        }
    }

    private static string Truncate(string text) =>
        text.Length <= MaxValueTextInMessage ? text : string.Concat(text.AsSpan(0, MaxValueTextInMessage), "…");

    private static long FirstInvalidUtf8(ReadOnlySpan<byte> bytes)
    {
        var offset = 0;
        while (offset < bytes.Length)
        {
            if (System.Buffers.OperationStatus.Done != Rune.DecodeFromUtf8(bytes[offset..], out _, out var consumed))
            {
                return offset;
            }

            offset += consumed;
        }

        return offset;
    }
}
