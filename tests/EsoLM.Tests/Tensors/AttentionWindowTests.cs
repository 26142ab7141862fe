using System.Runtime.Intrinsics;
using EsoLM.Tensors;
using Xunit;

namespace EsoLM.Tests.Tensors;

/// <summary>
/// The decoding-window kernels load each cached row once per pair of queries; every query must still get exactly the
/// bits of the one-query path (<see cref="Attention.AttendHead"/>), over fp32 entries and over bf16 entries widened, for
/// any key ranges (equal or different starts, odd and even lengths, empty ranges, two ranges per query), and stay close to
/// the plain reference attention.
/// </summary>
public sealed class AttentionWindowTests
{
    private const int D = 64;

    public static TheoryData<int, int> Cases()
    {
        var data = new TheoryData<int, int>();
        foreach (int queries in new[] { 1, 2, 3 })
        {
            for (int seed = 0; seed < 12; seed++)
            {
                data.Add(queries, seed);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Window_kernels_give_the_bits_of_the_one_query_path(int queries, int seed)
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            return; // the kernels need Vector512; the forward pass then takes the plain path
        }

        var rng = new Random(seed);
        int slots = rng.Next(1, 90);
        var keys = Random(rng, slots * D, 1);
        var values = Random(rng, slots * D, 1);
        var q = Random(rng, queries * 3 * D, 2); // rows at stride 3·D, like the qkv buffer
        var visible = new KeyRange[queries];
        for (int r = 0; r < queries; r++)
        {
            visible[r] = RandomRange(rng, slots, seed);
        }

        var expected = Fill(queries * 2 * D);
        var actual = Fill(queries * 2 * D);
        Attention.AttendHead(SimdLevel.Vector512, q, 3 * D, queries, keys, values, D, visible, expected, 2 * D, 0.125f);
        Attention.AttendWindow(q, 3 * D, queries, keys, values, visible, actual, 2 * D, 0.125f);
        AssertBits(expected, actual, queries);

        var reference = Fill(queries * 2 * D);
        ReferenceKernels.AttendHead(q, 3 * D, queries, keys, values, D, visible, reference, 2 * D, 0.125f);
        for (int r = 0; r < queries; r++)
        {
            for (int i = 0; i < D; i++)
            {
                Assert.True(Math.Abs(reference[(r * 2 * D) + i] - actual[(r * 2 * D) + i]) < 1e-4f, $"row {r} [{i}] vs reference");
            }
        }

        // The kernel reads cache rows as the cache writes them; the expectation widens the scalar rounding, in order.
        var k16 = CacheRows(keys, D);
        var v16 = CacheRows(values, D);
        var wideK = keys.Select(x => LowPrecision.FromBFloat16(LowPrecision.ToBFloat16(x))).ToArray();
        var wideV = values.Select(x => LowPrecision.FromBFloat16(LowPrecision.ToBFloat16(x))).ToArray();
        var expected16 = Fill(queries * 2 * D);
        var actual16 = Fill(queries * 2 * D);
        Attention.AttendHead(SimdLevel.Vector512, q, 3 * D, queries, wideK, wideV, D, visible, expected16, 2 * D, 0.125f);
        Attention.AttendWindowBf16(q, 3 * D, queries, k16, v16, visible, actual16, 2 * D, 0.125f);
        AssertBits(expected16, actual16, queries);
    }

    [Fact]
    public void Decoding_shapes_share_the_rows_and_keep_the_bits()
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            return;
        }

        // The Eso-LM decoding window: previous token sees [0, n), the masked query [0, n + 1); both parities of n.
        var rng = new Random(3);
        for (int n = 1; n < 40; n++)
        {
            int slots = n + 1;
            var keys = Random(rng, slots * D, 1);
            var values = Random(rng, slots * D, 1);
            var q = Random(rng, 2 * D, 3);
            KeyRange[] visible = [KeyRange.Of(0, n), KeyRange.Of(0, n + 1)];
            var expected = new float[2 * D];
            var actual = new float[2 * D];
            Attention.AttendHead(SimdLevel.Vector512, q, D, 2, keys, values, D, visible, expected, D, 0.125f);
            Attention.AttendWindow(q, D, 2, keys, values, visible, actual, D, 0.125f);
            AssertBits(expected, actual, 2, D);
        }
    }

    [Fact]
    public void Zero_and_negative_zero_scores_keep_the_bits()
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            return;
        }

        // Keys of +0 and −0 give scores of ±0 (the running maximum's ±0 rule) next to ordinary ones.
        var rng = new Random(9);
        const int slots = 23;
        var keys = Random(rng, slots * D, 1);
        var values = Random(rng, slots * D, 1);
        for (int k = 0; k < slots; k += 2)
        {
            for (int i = 0; i < D; i++)
            {
                keys[(k * D) + i] = k % 4 == 0 ? 0f : -0f;
            }
        }

        foreach (var q in new[] { Random(rng, 2 * D, 1), new float[2 * D], Enumerable.Repeat(-1f, 2 * D).ToArray() })
        {
            KeyRange[] visible = [KeyRange.Of(0, slots - 1), new KeyRange(0, 3, 5, slots)];
            var expected = new float[2 * D];
            var actual = new float[2 * D];
            Attention.AttendHead(SimdLevel.Vector512, q, D, 2, keys, values, D, visible, expected, D, 0.125f);
            Attention.AttendWindow(q, D, 2, keys, values, visible, actual, D, 0.125f);
            AssertBits(expected, actual, 2, D);
        }
    }

    [Fact]
    public void Bad_ranges_name_the_argument()
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            return;
        }

        var keys = new float[4 * D];
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Attention.AttendWindow(new float[D], D, 1, keys, keys, [KeyRange.Of(0, 5)], new float[D], D, 1f));
        Assert.Equal("visible", e.ParamName);
        e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Attention.AttendWindow(new float[D], D, 1, keys, new float[3 * D], [KeyRange.Of(0, 2)], new float[D], D, 1f));
        Assert.Equal("values", e.ParamName);
    }

    [Fact]
    public void Vector_bf16_rounding_equals_the_scalar_definition()
    {
        // Random values and the awkward ones: ties (low half exactly 0x8000, odd and even), NaNs, infinities, denormals, ±0.
        var rng = new Random(5);
        var values = new List<float>();
        for (int i = 0; i < 4000; i++)
        {
            values.Add(BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32)));
        }

        foreach (uint top in new uint[] { 0x3F80, 0x3F81, 0x0000, 0x8001, 0x7F7F, 0xFF7F })
        {
            values.Add(BitConverter.UInt32BitsToSingle((top << 16) | 0x8000));
            values.Add(BitConverter.UInt32BitsToSingle((top << 16) | 0x7FFF));
            values.Add(BitConverter.UInt32BitsToSingle((top << 16) | 0x8001));
        }

        values.AddRange([float.NaN, -float.NaN, BitConverter.UInt32BitsToSingle(0x7F800001), float.PositiveInfinity, float.NegativeInfinity,
            float.Epsilon, -float.Epsilon, 0f, -0f, float.MaxValue, float.MinValue]);
        foreach (int rowLength in new[] { 64, 32, 48, 96, 33, 7 })
        {
            // Rows in cache layout: entry c at Bf16RowSlot(c), the same rounding as the scalar definition.
            var source = values.Take(values.Count - (values.Count % rowLength)).ToArray();
            var actual = CacheRows(source, rowLength);
            for (int i = 0; i < source.Length; i++)
            {
                int row = i - (i % rowLength);
                ushort stored = actual[row + LowPrecision.Bf16RowSlot(i % rowLength, rowLength)];
                Assert.True(LowPrecision.ToBFloat16(source[i]) == stored, $"row length {rowLength} [{i}] 0x{BitConverter.SingleToUInt32Bits(source[i]):X8}");
            }

            // Widening the rows gives the rounded values back in order (NaNs compared by their bits).
            var wide = Attention.WidenBf16(actual, rowLength, Scratch.WideKeys).ToArray();
            for (int i = 0; i < source.Length; i++)
            {
                Assert.Equal(BitConverter.SingleToUInt32Bits(LowPrecision.FromBFloat16(LowPrecision.ToBFloat16(source[i]))),
                    BitConverter.SingleToUInt32Bits(wide[i]));
            }
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => Attention.ToBFloat16Rows(new float[64], new ushort[3], 64));
        Assert.Throws<ArgumentOutOfRangeException>(() => Attention.ToBFloat16Rows(new float[65], new ushort[65], 64));
        Assert.Throws<ArgumentOutOfRangeException>(() => Attention.WidenBf16(new ushort[65], 64, Scratch.WideKeys));
    }

    [Fact]
    public void Cache_rows_pair_entry_c_with_c_plus_16_in_one_word()
    {
        // The layout the windowed kernels widen with one shift and one mask: in each whole group of 32 entries, entry c
        // (c < 16) is the low half of word c and entry c + 16 its high half; entries past the last whole group stay in order.
        Assert.Equal([0, 2, 4, 30, 1, 3, 31], new[] { 0, 1, 2, 15, 16, 17, 31 }.Select(c => LowPrecision.Bf16RowSlot(c, 64)));
        Assert.Equal([32, 34, 33, 63], new[] { 32, 33, 48, 63 }.Select(c => LowPrecision.Bf16RowSlot(c, 64)));
        Assert.Equal([30, 31, 32, 47], new[] { 15, 31, 32, 47 }.Select(c => LowPrecision.Bf16RowSlot(c, 48)));
        Assert.Equal([0, 1, 6], new[] { 0, 1, 6 }.Select(c => LowPrecision.Bf16RowSlot(c, 7)));
        for (int length = 1; length <= 96; length++)
        {
            var slots = Enumerable.Range(0, length).Select(c => LowPrecision.Bf16RowSlot(c, length)).Order().ToArray();
            Assert.Equal(Enumerable.Range(0, length), slots); // a permutation of the row
        }
    }

    private static ushort[] CacheRows(float[] values, int rowLength)
    {
        var rows = new ushort[values.Length];
        Attention.ToBFloat16Rows(values, rows, rowLength);
        return rows;
    }

    private static KeyRange RandomRange(Random rng, int slots, int seed)
    {
        switch (rng.Next(5))
        {
            case 0:
                return KeyRange.Of(0, 0); // sees nothing: zero output
            case 1:
                {
                    int a = rng.Next(0, slots + 1);
                    return KeyRange.Of(0, Math.Max(a, seed % 2));
                }

            case 2:
                {
                    int s = rng.Next(0, slots);
                    return KeyRange.Of(s, rng.Next(s + 1, slots + 1));
                }

            default:
                {
                    // Two disjoint ranges.
                    int a = rng.Next(0, slots + 1), b = rng.Next(a, slots + 1), c = rng.Next(b, slots + 1), e = rng.Next(c, slots + 1);
                    return new KeyRange(c, e, a, b);
                }
        }
    }

    private static void AssertBits(float[] expected, float[] actual, int queries, int stride = 2 * D)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"[{i}] (row {i / stride} of {queries}): {expected[i]:R} vs {actual[i]:R}");
        }
    }

    private static float[] Fill(int n) => Enumerable.Repeat(7f, n).ToArray(); // untouched gaps must stay untouched

    private static float[] Random(Random rng, int n, float scale) =>
        [.. Enumerable.Range(0, n).Select(_ => (float)(((rng.NextDouble() * 2) - 1) * scale))];
}
