using System.Text;
using EsoLM.IO;
using Xunit;

namespace EsoLM.Tests.IO;

/// <summary>Every malformed-file rule: the exception type and a message naming the offending thing.</summary>
public sealed class SafetensorsReaderValidationTests : IDisposable
{
    private const string Ok = "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]";
    private readonly SafetensorsTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    private SafetensorsFormatException OpenFails(byte[] bytes)
    {
        var path = _files.Save(bytes, "bad.safetensors");
        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsReader.Open(path));
        Assert.Contains("bad.safetensors", ex.Message, StringComparison.Ordinal);
        Assert.Equal(path, ex.FilePath);

        // The stream overload reports the same problem.
        using var ms = new MemoryStream(bytes);
        Assert.Throws<SafetensorsFormatException>(() => SafetensorsReader.Open(ms, leaveOpen: true));
        return ex;
    }

    private SafetensorsFormatException OpenFails(string header, int dataBytes = 8) => OpenFails(SafetensorsTestFiles.Raw(header, new byte[dataBytes]));

    private static void Names(SafetensorsFormatException ex, params string[] parts)
    {
        foreach (var part in parts)
        {
            Assert.Contains(part, ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void File_shorter_than_8_bytes()
    {
        var ex = OpenFails([1, 2, 3, 4, 5]);
        Names(ex, "5 bytes", "8-byte");
    }

    [Fact]
    public void Empty_file()
    {
        var ex = OpenFails([]);
        Names(ex, "0 bytes", "8-byte");
    }

    [Fact]
    public void Header_length_zero()
    {
        var ex = OpenFails(SafetensorsTestFiles.Raw("{}", lengthOverride: 0));
        Names(ex, "header length is 0");
    }

    [Fact]
    public void Header_length_past_end_of_file()
    {
        var ex = OpenFails(SafetensorsTestFiles.Raw("{}", lengthOverride: 1000));
        Names(ex, "1000", "past the end of the file", "only 2 bytes");
    }

    [Fact]
    public void Header_length_absurdly_large()
    {
        var ex = OpenFails(SafetensorsTestFiles.Raw("{}", lengthOverride: 200_000_000));
        Names(ex, "200000000", "104857600");

        ex = OpenFails(SafetensorsTestFiles.Raw("{}", lengthOverride: ulong.MaxValue));
        Names(ex, ulong.MaxValue.ToString(), "104857600");
    }

    [Fact]
    public void Header_not_valid_utf8()
    {
        var header = Encoding.UTF8.GetBytes("{\"w\":{" + Ok + "}}  ");
        header[^1] = 0xFF;
        var ex = OpenFails(SafetensorsTestFiles.Raw(header, new byte[8]));
        Names(ex, "not valid UTF-8", $"offset {header.Length - 1}");
    }

    [Theory]
    [InlineData("{\"w\":")]
    [InlineData("{\"w\":{" + Ok + "}")]
    [InlineData("{\"w\":{" + Ok + "},}")]
    [InlineData("{'w':{}}")]
    [InlineData("{\"w\":{" + Ok + "}} {}")]
    [InlineData("{/* c */}")]
    public void Header_not_valid_json(string header)
    {
        var ex = OpenFails(header);
        Names(ex, "not valid JSON");
    }

    [Fact]
    public void Header_only_whitespace()
    {
        var ex = OpenFails("    ");
        Names(ex, "empty");
    }

    [Theory]
    [InlineData("[1, 2]", "an array")]
    [InlineData("\"text\"", "the string \"text\"")]
    [InlineData("42", "the number 42")]
    [InlineData("null", "null")]
    public void Header_not_an_object(string header, string found)
    {
        var ex = OpenFails(header);
        Names(ex, "must be a JSON object", found);
    }

    [Theory]
    [InlineData("5", "the number 5")]
    [InlineData("[0, 8]", "an array")]
    [InlineData("\"F32\"", "the string \"F32\"")]
    [InlineData("null", "null")]
    public void Tensor_entry_not_an_object(string entry, string found)
    {
        var ex = OpenFails("{\"layer.w\":" + entry + "}");
        Names(ex, "tensor 'layer.w'", "must be a JSON object", found);
        Assert.Equal("layer.w", ex.TensorName);
    }

    [Theory]
    [InlineData("dtype", "{\"shape\":[2],\"data_offsets\":[0,8]}")]
    [InlineData("shape", "{\"dtype\":\"F32\",\"data_offsets\":[0,8]}")]
    [InlineData("data_offsets", "{\"dtype\":\"F32\",\"shape\":[2]}")]
    public void Tensor_entry_missing_field(string field, string entry)
    {
        var ex = OpenFails("{\"w\":" + entry + "}");
        Names(ex, "tensor 'w'", $"missing field '{field}'");
    }

    [Theory]
    [InlineData("{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}", "'dtype' must be a string", "the number 4")]
    [InlineData("{\"dtype\":[\"F32\"],\"shape\":[2],\"data_offsets\":[0,8]}", "'dtype' must be a string", "an array")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}", "'shape' must be an array", "the string \"2\"")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}", "'shape' must be an array", "the number 2")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}", "'shape'[0]", "the number 2.5")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[1,\"2\"],\"data_offsets\":[0,8]}", "'shape'[1]", "the string \"2\"")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{\"begin\":0}}", "'data_offsets' must be an array", "an object")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8.0]}", "'data_offsets'[1]", "the number 8.0")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[null,8]}", "'data_offsets'[0]", "null")]
    public void Tensor_entry_wrong_typed_field(string entry, string field, string found)
    {
        var ex = OpenFails("{\"w\":" + entry + "}");
        Names(ex, "tensor 'w'", field, found);
    }

    [Fact]
    public void Tensor_entry_duplicate_field()
    {
        var ex = OpenFails("{\"w\":{" + Ok + ",\"dtype\":\"F16\"}}");
        Names(ex, "tensor 'w'", "'dtype'", "more than once");
    }

    [Fact]
    public void Tensor_entry_unknown_fields_are_ignored()
    {
        var path = _files.Save(SafetensorsTestFiles.Raw("{\"w\":{" + Ok + ",\"extra\":{\"a\":[1,{}]}}}", new byte[8]));
        using var reader = SafetensorsReader.Open(path);
        Assert.Equal(new float[2], reader.ReadSingle("w"));
    }

    [Fact]
    public void Duplicate_tensor_names()
    {
        var ex = OpenFails("{\"w\":{" + Ok + "},\"v\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]},\"w\":{" + Ok + "}}");
        Names(ex, "tensor 'w'", "duplicate tensor name");
    }

    [Fact]
    public void Duplicate_tensor_names_differing_only_in_escaping()
    {
        // "\u0077" is "w": the same key after unescaping.
        var ex = OpenFails("{\"w\":{" + Ok + "},\"\\u0077\":{" + Ok + "}}");
        Names(ex, "tensor 'w'", "duplicate tensor name");
    }

    [Theory]
    [InlineData("F64")]
    [InlineData("I64")]
    [InlineData("f32")]
    [InlineData("float32")]
    [InlineData("")]
    public void Unsupported_dtype(string dtype)
    {
        var ex = OpenFails("{\"w\":{\"dtype\":\"" + dtype + "\",\"shape\":[2],\"data_offsets\":[0,8]}}");
        Names(ex, "tensor 'w'", $"'dtype' is '{dtype}'", "not supported", "F32, F16, BF16");
    }

    [Fact]
    public void Negative_shape_dimension()
    {
        var ex = OpenFails("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-3],\"data_offsets\":[0,8]}}");
        Names(ex, "tensor 'w'", "'shape'[1] is -3", "non-negative");
    }

    [Fact]
    public void Shape_dimension_above_int_max()
    {
        var ex = OpenFails("{\"w\":{\"dtype\":\"F32\",\"shape\":[2147483648],\"data_offsets\":[0,8]}}");
        Names(ex, "tensor 'w'", "'shape'[0] is 2147483648", "2147483647");
    }

    [Fact]
    public void Shape_dimension_beyond_int64()
    {
        var ex = OpenFails("{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}");
        Names(ex, "tensor 'w'", "'shape'[0]", "99999999999999999999");
    }

    [Theory]
    [InlineData("[2147483647,2147483647,2147483647]")]
    [InlineData("[2147483647,2147483647,4]")] // count fits in 64 bits, byte size (× 4) does not
    public void Element_count_overflow(string shape)
    {
        var ex = OpenFails("{\"w\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[0,8]}}");
        Names(ex, "tensor 'w'", "overflows", shape.Replace(",", ", ", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("[0]", "holds 1")]
    [InlineData("[]", "holds 0")]
    [InlineData("[0,4,8]", "holds 3")]
    public void Data_offsets_not_two_entries(string offsets, string found)
    {
        var ex = OpenFails("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" + offsets + "}}");
        Names(ex, "tensor 'w'", "exactly 2 integers", found);
    }

    [Fact]
    public void Data_offsets_negative()
    {
        var ex = OpenFails("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}");
        Names(ex, "tensor 'w'", "[-8, 0]", "non-negative");
    }

    [Fact]
    public void Data_offsets_beyond_int64()
    {
        var ex = OpenFails("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551615]}}");
        Names(ex, "tensor 'w'", "'data_offsets'[1]", "18446744073709551615", "9223372036854775807");
    }

    [Fact]
    public void Data_offsets_begin_after_end()
    {
        var ex = OpenFails("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}");
        Names(ex, "tensor 'w'", "[8, 0]", "begin after end");
    }

    [Theory]
    [InlineData("F32", "[2]", "[0,4]", "spans 4 bytes", "needs 2 × 4 = 8 bytes")]
    [InlineData("F16", "[2]", "[0,8]", "spans 8 bytes", "needs 2 × 2 = 4 bytes")]
    [InlineData("BF16", "[3,1]", "[0,2]", "spans 2 bytes", "needs 3 × 2 = 6 bytes")]
    [InlineData("F32", "[]", "[0,0]", "spans 0 bytes", "needs 1 × 4 = 4 bytes")]
    public void Data_offsets_size_mismatch(string dtype, string shape, string offsets, string spans, string needs)
    {
        var ex = OpenFails("{\"w\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}}");
        Names(ex, "tensor 'w'", spans, needs, dtype);
    }

    [Fact]
    public void Range_past_end_of_data_region()
    {
        var ex = OpenFails("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", dataBytes: 12);
        Names(ex, "tensor 'w'", "[0, 16]", "holds 12 bytes", "truncated");
    }

    [Fact]
    public void File_cut_in_the_middle_of_the_data_is_caught_at_open()
    {
        var full = new MemoryStream();
        SafetensorsWriter.Write(full, [new NamedTensor("a", [3], new float[] { 1, 2, 3 }), new NamedTensor("b", [1000], new float[1000])]);
        var bytes = full.ToArray();
        var ex = OpenFails(bytes[..(bytes.Length - 1500)]);
        Names(ex, "tensor 'b'", "truncated");
    }

    [Fact]
    public void Overlapping_ranges()
    {
        var ex = OpenFails(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," +
            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
            dataBytes: 12);
        Names(ex, "tensor 'b'", "[4, 12]", "overlaps tensor 'a'", "[0, 8]");
    }

    [Fact]
    public void Overlapping_ranges_listed_out_of_order_and_nested()
    {
        var ex = OpenFails(
            "{\"inner\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[20,24]}," +
            "\"outer\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]}," +
            "\"after\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[32,36]}}",
            dataBytes: 36);
        Names(ex, "tensor 'inner'", "overlaps tensor 'outer'");
    }

    [Fact]
    public void Identical_ranges_overlap()
    {
        var ex = OpenFails("{\"a\":{" + Ok + "},\"b\":{" + Ok + "}}");
        Names(ex, "overlaps tensor");
    }

    [Fact]
    public void Zero_length_and_gapped_ranges_do_not_count_as_overlaps()
    {
        var header =
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," +
            "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[4,4]}," +
            "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[12,16]}}";
        using var reader = SafetensorsReader.Open(_files.Save(SafetensorsTestFiles.Raw(header, new byte[16])));
        Assert.Equal(3, reader.Tensors.Count);
        Assert.Empty(reader.ReadSingle("e"));
    }

    [Theory]
    [InlineData("\"text\"", "the string \"text\"")]
    [InlineData("[\"a\",\"b\"]", "an array")]
    [InlineData("null", "null")]
    [InlineData("7", "the number 7")]
    public void Metadata_not_an_object(string value, string found)
    {
        var ex = OpenFails("{\"__metadata__\":" + value + ",\"w\":{" + Ok + "}}");
        Names(ex, "'__metadata__' must be a JSON object of string values", found);
    }

    [Theory]
    [InlineData("1", "the number 1")]
    [InlineData("true", "true")]
    [InlineData("null", "null")]
    [InlineData("{\"x\":\"y\"}", "an object")]
    [InlineData("[\"y\"]", "an array")]
    public void Metadata_value_not_a_string(string value, string found)
    {
        var ex = OpenFails("{\"__metadata__\":{\"format\":\"pt\",\"epoch\":" + value + "},\"w\":{" + Ok + "}}");
        Names(ex, "'__metadata__' value for key 'epoch' must be a string", found);
    }

    [Fact]
    public void Metadata_duplicate_key()
    {
        var ex = OpenFails("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", dataBytes: 0);
        Names(ex, "'__metadata__' has duplicate key 'k'");
    }

    [Fact]
    public void Metadata_entry_twice()
    {
        var ex = OpenFails("{\"__metadata__\":{},\"__metadata__\":{}}", dataBytes: 0);
        Names(ex, "more than one '__metadata__'");
    }

    [Fact]
    public void Destination_span_of_wrong_length()
    {
        using var reader = SafetensorsReader.Open(_files.Save(SafetensorsTestFiles.Raw("{\"w\":{" + Ok + "}}", new byte[8])));
        var ex = Assert.Throws<ArgumentException>(() => reader.ReadSingle("w", new float[3]));
        Assert.Equal("destination", ex.ParamName);
        Names2(ex.Message, "3 elements", "'w'", "has 2");
        ex = Assert.Throws<ArgumentException>(() => reader.ReadSingle("w", Span<float>.Empty));
        Names2(ex.Message, "0 elements", "has 2");
    }

    [Fact]
    public void Unknown_tensor_name_lists_similar_names()
    {
        using var reader = SafetensorsReader.Open(_files.Save(SafetensorsTestFiles.Raw(
            "{\"blocks.0.norm1.weight\":{" + Ok + "},\"other\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}", new byte[8])));
        var ex = Assert.Throws<KeyNotFoundException>(() => reader.GetInfo("blocks.0.norm2.weight"));
        Names2(ex.Message, "'blocks.0.norm2.weight'", "'blocks.0.norm1.weight'", "2 tensors");
        Assert.Throws<KeyNotFoundException>(() => reader.ReadSingle("nope"));
        Assert.False(reader.Contains("nope"));
    }

    [Fact]
    public void Unseekable_stream_is_rejected()
    {
        using var inner = new MemoryStream(SafetensorsTestFiles.Raw("{}"));
        using var stream = new ForwardOnlyStream(inner);
        var ex = Assert.Throws<ArgumentException>(() => SafetensorsReader.Open(stream));
        Assert.Equal("stream", ex.ParamName);
    }

    [Fact]
    public void Reading_after_dispose_throws()
    {
        var reader = SafetensorsReader.Open(_files.Save(SafetensorsTestFiles.Raw("{\"w\":{" + Ok + "}}", new byte[8])));
        reader.Dispose();
        reader.Dispose();
        Assert.Throws<ObjectDisposedException>(() => reader.ReadSingle("w"));
    }

    private static void Names2(string message, params string[] parts)
    {
        foreach (var part in parts)
        {
            Assert.Contains(part, message, StringComparison.Ordinal);
        }
    }

    private sealed class ForwardOnlyStream(Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
