using System.Buffers.Binary;
using System.Text;
using EsoLM.IO;
using Xunit;

namespace EsoLM.Tests.IO;

/// <summary>Writer → reader round trips, and F16/BF16 files built by hand.</summary>
public sealed class SafetensorsRoundTripTests : IDisposable
{
    private readonly SafetensorsTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        var values = new float[n];
        for (var i = 0; i < n; i++)
        {
            values[i] = (float)((rng.NextDouble() * 2) - 1) * MathF.Pow(10, rng.Next(-30, 30));
        }

        return values;
    }

    private static void AssertBitIdentical(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(
                BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"element {i}: expected 0x{BitConverter.SingleToInt32Bits(expected[i]):X8}, got 0x{BitConverter.SingleToInt32Bits(actual[i]):X8}");
        }
    }

    [Fact]
    public void Round_trip_is_bit_identical_in_order_with_metadata()
    {
        var special = new[]
        {
            0f, -0f, 1f, -1f, float.Epsilon, -float.Epsilon, float.MaxValue, float.MinValue,
            float.PositiveInfinity, float.NegativeInfinity, float.NaN,
            BitConverter.Int32BitsToSingle(0x7FC0_1234), // NaN with a payload
            BitConverter.Int32BitsToSingle(unchecked((int)0xFFA0_0001)), // signalling-looking negative NaN
            1.17549421e-38f, // largest subnormal
        };
        var tensors = new List<NamedTensor>
        {
            new("z.last.first", [3, 5], Random(15, 1)),
            new("special", [special.Length], special),
            new("a.matrix", [17, 33], Random(17 * 33, 2)),
            new("scalar", [], new float[] { 42.5f }),
            new("empty", [0], Array.Empty<float>()),
            new("empty.2d", [4, 0, 3], Array.Empty<float>()),
            new("slice", [2, 2], new ReadOnlyMemory<float>(Random(10, 3), 3, 4)),
        };
        var metadata = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["vocab"] = BigString(2 * 1024 * 1024),
            ["unicode"] = "héllo wörld — 日本語 🚀 \u0000 \u001f \"quoted\" back\\slash\n\t</script>",
            ["empty"] = string.Empty,
        };

        var path = _files.File("model.safetensors");
        SafetensorsWriter.Write(path, tensors, metadata);

        using var reader = SafetensorsReader.Open(path);
        Assert.Equal(tensors.Select(t => t.Name), reader.Tensors.Select(t => t.Name));
        Assert.Equal(metadata.OrderBy(kv => kv.Key), reader.Metadata.OrderBy(kv => kv.Key));
        foreach (var t in tensors)
        {
            var info = reader.GetInfo(t.Name);
            Assert.Equal(TensorDataType.F32, info.DataType);
            Assert.Equal(t.Shape, info.Shape);
            Assert.Equal(t.Data.Length, info.ElementCount);
            AssertBitIdentical(t.Data.Span, reader.ReadSingle(t.Name));
        }

        Assert.Equal(1, reader.GetInfo("scalar").ElementCount);
        Assert.Equal(0, reader.GetInfo("empty.2d").ElementCount);

        // Tensors are contiguous, in the given order, starting at offset 0.
        long expectedBegin = 0;
        foreach (var info in reader.Tensors)
        {
            Assert.Equal(expectedBegin, info.Begin);
            expectedBegin = info.End;
        }

        Assert.Equal(new FileInfo(path).Length, 8 + HeaderLength(path) + expectedBegin);
    }

    [Fact]
    public void Header_is_space_padded_so_data_starts_8_byte_aligned()
    {
        for (var nameLength = 1; nameLength <= 9; nameLength++)
        {
            var path = _files.File($"aligned{nameLength}.safetensors");
            SafetensorsWriter.Write(path, [new NamedTensor(new string('x', nameLength), [1], new float[] { 1 })]);
            var length = HeaderLength(path);
            Assert.Equal(0, (8 + length) % 8);
            var header = File.ReadAllBytes(path).AsSpan(8, (int)length);
            var json = header.TrimEnd((byte)' ');
            Assert.Equal((byte)'}', json[^1]);
            Assert.True(header.Length - json.Length < 8);
        }
    }

    [Fact]
    public void No_metadata_reads_as_empty_and_writes_no_metadata_entry()
    {
        var path = _files.File("nometa.safetensors");
        SafetensorsWriter.Write(path, [new NamedTensor("w", [2], new float[] { 1, 2 })]);
        Assert.DoesNotContain("__metadata__", File.ReadAllText(path), StringComparison.Ordinal);
        using var reader = SafetensorsReader.Open(path);
        Assert.Empty(reader.Metadata);
    }

    [Fact]
    public void Empty_file_with_no_tensors_round_trips()
    {
        using var ms = new MemoryStream();
        SafetensorsWriter.Write(ms, [], new Dictionary<string, string> { ["k"] = "v" });
        ms.Position = 0;
        using var reader = SafetensorsReader.Open(ms);
        Assert.Empty(reader.Tensors);
        Assert.Equal("v", reader.Metadata["k"]);
    }

    [Fact]
    public void Stream_round_trip_starts_at_the_streams_position_and_leaves_it_open()
    {
        using var ms = new MemoryStream();
        ms.Write("PREFIX"u8);
        var data = Random(1000, 4);
        SafetensorsWriter.Write(ms, [new NamedTensor("w", [10, 100], data)]);
        ms.Position = 6;
        using (var reader = SafetensorsReader.Open(ms, leaveOpen: true))
        {
            AssertBitIdentical(data, reader.ReadSingle("w"));
            var into = new float[1000];
            reader.ReadSingle("w", into);
            AssertBitIdentical(data, into);
        }

        Assert.True(ms.CanRead);
        ms.Position = 6;
        SafetensorsReader.Open(ms).Dispose();
        Assert.False(ms.CanRead);
    }

    [Fact]
    public void Large_tensor_round_trips_through_a_file()
    {
        var data = Random(3_000_001, 5);
        var path = _files.File("large.safetensors");
        SafetensorsWriter.Write(path, [new NamedTensor("head", [3_000_001], data), new NamedTensor("tail", [1], new float[] { 7 })]);
        using var reader = SafetensorsReader.Open(path);
        AssertBitIdentical(data, reader.ReadSingle("head"));
        Assert.Equal(7f, reader.ReadSingle("tail")[0]);
    }

    [Fact]
    public void Reads_are_safe_from_several_threads()
    {
        var a = Random(50_000, 6);
        var b = Random(70_000, 7);
        var path = _files.File("threads.safetensors");
        SafetensorsWriter.Write(path, [new NamedTensor("a", [a.Length], a), new NamedTensor("b", [b.Length], b)]);
        using var reader = SafetensorsReader.Open(path);
        Parallel.For(0, 40, i =>
        {
            var (name, expected) = i % 2 == 0 ? ("a", a) : ("b", b);
            Assert.Equal(expected, reader.ReadSingle(name));
        });
    }

    [Fact]
    public void Writer_rejects_bad_tensors_before_touching_the_file()
    {
        var path = _files.File("keep.safetensors");
        File.WriteAllText(path, "previous");

        void Fails(string part, params NamedTensor[] tensors)
        {
            var ex = Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(path, tensors));
            Assert.Contains(part, ex.Message, StringComparison.Ordinal);
            Assert.Equal("previous", File.ReadAllText(path));
        }

        Fails("'w' appears more than once", new("w", [1], new float[1]), new("w", [1], new float[1]));
        Fails("shape [2, 3] (6 elements) but 5", new NamedTensor("w", [2, 3], new float[5]));
        Fails("negative dimension -1", new NamedTensor("w", [-1, -1], new float[1]));
        Fails("reserved name '__metadata__'", new NamedTensor("__metadata__", [1], new float[1]));
        Fails("empty name", new NamedTensor(string.Empty, [1], new float[1]));
        Fails("null shape", new NamedTensor("w", null!, new float[1]));
        Assert.Single(Directory.GetFiles(_files.Folder));
    }

    [Fact]
    public void F16_file_built_by_hand_reads_back_as_floats()
    {
        var values = new[]
        {
            0f, -0f, 1f, -2.5f, 0.333251953125f, 65504f, -65504f, 6.1035156e-05f, 5.9604645e-08f,
            float.PositiveInfinity, float.NegativeInfinity, float.NaN,
        };

        // 100 003 elements: more than one 64 KiB read chunk, and not a multiple of it.
        const int n = 100_003;
        var data = new byte[n * 2];
        var expected = new float[n];
        for (var i = 0; i < n; i++)
        {
            var h = i < values.Length ? (Half)values[i] : (Half)((i % 2001) - 1000.25f);
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(i * 2), BitConverter.HalfToUInt16Bits(h));
            expected[i] = (float)h;
        }

        var header = $"{{\"__metadata__\":{{\"format\":\"pt\"}},\"h\":{{\"dtype\":\"F16\",\"shape\":[1,{n}],\"data_offsets\":[0,{n * 2}]}}}}";
        using var reader = SafetensorsReader.Open(_files.Save(SafetensorsTestFiles.Raw(header + "   ", data)));
        var info = reader.GetInfo("h");
        Assert.Equal(TensorDataType.F16, info.DataType);
        Assert.Equal(n, info.ElementCount);

        var actual = reader.ReadSingle("h");
        AssertBitIdentical(expected, actual);
        Assert.Equal(new[] { 0f, -0f, 1f, -2.5f, 0.333251953125f, 65504f, -65504f, 6.1035156e-05f, 5.9604645e-08f }, actual[..9]);
        Assert.True(float.IsNegative(actual[1]));
        Assert.True(float.IsPositiveInfinity(actual[9]));
        Assert.True(float.IsNaN(actual[11]));
    }

    [Fact]
    public void BF16_file_built_by_hand_reads_back_as_floats()
    {
        var cases = new (ushort Bits, float Value)[]
        {
            (0x0000, 0f),
            (0x8000, -0f),
            (0x3F80, 1f),
            (0xC000, -2f),
            (0x4049, 3.140625f),
            (0x3E80, 0.25f),
            (0x7F7F, 3.3895314e38f), // largest finite bfloat16
            (0x0080, 1.1754944e-38f), // smallest normal
            (0x0001, 9.18355e-41f), // smallest subnormal (2^-133)
            (0x7F80, float.PositiveInfinity),
            (0xFF80, float.NegativeInfinity),
        };
        const int n = 70_001; // more than one read chunk
        var data = new byte[(n + 1) * 2];
        var expected = new float[n];
        for (var i = 0; i < n; i++)
        {
            var bits = i < cases.Length ? cases[i].Bits : (ushort)((i * 7919) & 0x7F7F);
            BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan((i + 1) * 2), bits);
            expected[i] = BitConverter.Int32BitsToSingle(bits << 16);
        }

        // Tensor starts 2 bytes into the data region (an unused gap before it).
        var header = $"{{\"b\":{{\"dtype\":\"BF16\",\"shape\":[{n}],\"data_offsets\":[2,{(n + 1) * 2}]}}}}";
        using var reader = SafetensorsReader.Open(_files.Save(SafetensorsTestFiles.Raw(header, data)));
        Assert.Equal(TensorDataType.BF16, reader.GetInfo("b").DataType);
        var actual = new float[n];
        reader.ReadSingle("b", actual);
        AssertBitIdentical(expected, actual);
        for (var i = 0; i < cases.Length; i++)
        {
            Assert.Equal(cases[i].Value, actual[i]);
        }

        Assert.True(float.IsNegative(actual[1]));
    }

    [Fact]
    public void Mixed_dtypes_in_one_file()
    {
        var data = new byte[4 + 2 + 2];
        BinaryPrimitives.WriteSingleLittleEndian(data, 1.5f);
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(4), BitConverter.HalfToUInt16Bits((Half)(-3f)));
        BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(6), 0x4120); // bf16 10.0
        var header =
            "{\"f\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}," +
            "\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[4,6]}," +
            "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,1],\"data_offsets\":[6,8]}}";
        using var reader = SafetensorsReader.Open(_files.Save(SafetensorsTestFiles.Raw(header, data)));
        Assert.Equal([1.5f], reader.ReadSingle("f"));
        Assert.Equal([-3f], reader.ReadSingle("h"));
        Assert.Equal([10f], reader.ReadSingle("b"));
        Assert.Empty(reader.GetInfo("f").Shape);
    }

    private static long HeaderLength(string path)
    {
        Span<byte> prefix = stackalloc byte[8];
        using var f = File.OpenRead(path);
        f.ReadExactly(prefix);
        return (long)BinaryPrimitives.ReadUInt64LittleEndian(prefix);
    }

    private static string BigString(int length)
    {
        var sb = new StringBuilder(length);
        var i = 0;
        while (sb.Length < length)
        {
            sb.Append("tok").Append(i++).Append("→é\"\\ ");
        }

        return sb.ToString(0, length);
    }
}
