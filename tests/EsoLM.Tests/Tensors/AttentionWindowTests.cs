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

        var k16 = keys.Select(LowPrecision.ToBFloat16).ToArray();
        var v16 = values.Select(LowPrecision.ToBFloat16).ToArray();
        var wideK = k16.Select(LowPrecision.FromBFloat16).ToArray();
        var wideV = v16.Select(LowPrecision.FromBFloat16).ToArray();
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
        var source = values.ToArray();
        var actual = new ushort[source.Length];
        Attention.ToBFloat16(source, actual);
        for (int i = 0; i < source.Length; i++)
        {
            Assert.True(LowPrecision.ToBFloat16(source[i]) == actual[i], $"[{i}] 0x{BitConverter.SingleToUInt32Bits(source[i]):X8}");
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => Attention.ToBFloat16(source, new ushort[3]));
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
