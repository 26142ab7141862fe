using EsoLM.Tensors;
using Xunit;

namespace EsoLM.Tests.Tensors;

/// <summary>
/// bf16 / int8 packed weights: the rounding itself is checked against its definition (nearest representable value), and
/// every product path (fused small-M, blocked with widened blocks, edges, threads, SIMD widths) against plain double loops
/// over the weights as they were rounded.
/// </summary>
public sealed class LowPrecisionGemmTests
{
    private static readonly (int M, int K, int N)[] Shapes =
    [
        (1, 1, 1), (1, 7, 65), (1, 384, 100), (2, 33, 31), (3, 64, 64), (4, 17, 97), (5, 300, 33), (7, 7, 7), (11, 65, 40),
        (12, 32, 32), (13, 300, 33), (16, 384, 130), (32, 300, 96), (63, 257, 7), (100, 7, 129),
    ];

    public static TheoryData<SimdLevel, int, WeightFormat> Paths()
    {
        var data = new TheoryData<SimdLevel, int, WeightFormat>();
        foreach (var level in TensorTestData.Levels())
        {
            foreach (var format in new[] { WeightFormat.BFloat16, WeightFormat.Int8 })
            {
                data.Add(level, 1, format);
                data.Add(level, 2, format);
            }
        }

        return data;
    }

    [Fact]
    public void BFloat16_rounding_is_round_to_nearest_even()
    {
        var rng = new Random(5);
        for (int i = 0; i < 200_000; i++)
        {
            float x = BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32));
            if (!float.IsFinite(x) || MathF.Abs(x) > 3e38f)
            {
                continue;
            }

            float r = LowPrecision.FromBFloat16(LowPrecision.ToBFloat16(x));
            uint bits = BitConverter.SingleToUInt32Bits(x);
            float down = BitConverter.UInt32BitsToSingle(bits & 0xFFFF0000u);
            float up = BitConverter.UInt32BitsToSingle((bits & 0xFFFF0000u) + 0x10000u);
            double dd = Math.Abs((double)x - down), du = Math.Abs((double)up - x);
            Assert.True(r == down || r == up, $"{x} → {r} is neither neighbour");
            if (dd != du)
            {
                Assert.Equal(dd < du ? down : up, r);
            }
            else
            {
                Assert.Equal(0u, BitConverter.SingleToUInt32Bits(r) & 0x10000u); // ties: even mantissa
            }
        }
    }

    [Fact]
    public void Int8_packing_stores_the_nearest_multiple_of_the_row_scale()
    {
        const int n = 45, k = 70;
        var w = TensorTestData.Random(n * k, 3);
        w.AsSpan(7 * k, k).Clear(); // an all-zero row
        var packed = PackedMatrix.Pack(w, n, k, WeightFormat.Int8);
        var back = new float[n * k];
        packed.CopyTo(back);
        for (int j = 0; j < n; j++)
        {
            double max = 0;
            for (int p = 0; p < k; p++)
            {
                max = Math.Max(max, Math.Abs(w[(j * k) + p]));
            }

            double step = max / 127;
            for (int p = 0; p < k; p++)
            {
                double x = w[(j * k) + p], y = back[(j * k) + p];
                Assert.True(Math.Abs(x - y) <= (0.5 * step * (1 + 1e-4)) + 1e-12, $"row {j} col {p}: {x} → {y}, step {step}");
                double q = step == 0 ? 0 : y / step;
                Assert.True(Math.Abs(q - Math.Round(q)) < 1e-3 && Math.Abs(q) <= 127.001, $"row {j} col {p}: {y} is not a multiple of the scale");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void MultiplyTransposed_matches_plain_loops_over_the_rounded_weights(SimdLevel simd, int threads, WeightFormat format)
    {
        var ctx = new ComputeContext(threads, simd);
        int seed = 100;
        foreach (var (m, k, n) in Shapes)
        {
            var a = TensorTestData.Random(m * k, seed++);
            var w = TensorTestData.Random(n * k, seed++);
            var bias = TensorTestData.Random(n, seed++);
            var packed = PackedMatrix.Pack(w, n, k, format);
            Assert.Equal(format, packed.Format);
            var rounded = new float[n * k];
            packed.CopyTo(rounded);
            double tol = 1e-5 * Math.Sqrt(k);
            foreach (bool withBias in new[] { false, true })
            {
                foreach (bool accumulate in new[] { false, true })
                {
                    var initial = TensorTestData.Random(m * n, seed++);
                    var expected = (float[])initial.Clone();
                    var actual = (float[])initial.Clone();
                    var b = withBias ? bias : ReadOnlySpan<float>.Empty;
                    ReferenceKernels.MultiplyTransposed(a, m, rounded, n, k, b, expected, accumulate);
                    Gemm.MultiplyTransposed(ctx, a, m, packed, b, actual, accumulate);
                    TensorTestData.AssertClose(expected, actual, tol, $"{format} {simd}/{threads}t {m}x{k}x{n} bias={withBias} acc={accumulate}");
                }
            }
        }
    }

    [Theory]
    [InlineData(WeightFormat.BFloat16, 1e-2)]
    [InlineData(WeightFormat.Int8, 2e-2)]
    [InlineData(WeightFormat.Int8A16, 2e-2)]
    public void Rounded_products_stay_close_to_fp32(WeightFormat format, double relative)
    {
        const int m = 3, k = 384, n = 500;
        var a = TensorTestData.Random(m * k, 1);
        var w = TensorTestData.Random(n * k, 2);
        var exact = new float[m * n];
        var low = new float[m * n];
        Gemm.MultiplyTransposed(ComputeContext.Default, a, m, PackedMatrix.Pack(w, n, k), default, exact);
        Gemm.MultiplyTransposed(ComputeContext.Default, a, m, PackedMatrix.Pack(w, n, k, format), default, low);
        double num = 0, den = 0;
        for (int i = 0; i < exact.Length; i++)
        {
            num += (exact[i] - low[i]) * (double)(exact[i] - low[i]);
            den += exact[i] * (double)exact[i];
        }

        Assert.InRange(Math.Sqrt(num / den), 0, relative);
        Assert.True(Math.Sqrt(num / den) > 0, "the rounded weights should differ somewhere");
    }

    [Fact]
    public void Bad_format_is_rejected_with_its_name()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => PackedMatrix.Pack(new float[4], 2, 2, (WeightFormat)7));
        Assert.Equal("format", e.ParamName);
    }
}
