using EsoLM.Tensors;
using Xunit;

namespace EsoLM.Tests.Tensors;

/// <summary>
/// int8a16 products (int8 weights, activations rounded per row to 16-bit fixed point, exact int32 sums): every path
/// (vector tiles of 1/2/4/8 rows, the scalar path, 1 and 2 threads, blocks of 64 rows, the parallel quantization of
/// large inputs, edges) must give the bits of the format's definition,
/// written out here with 64-bit sums, independently of the kernels and the packing code.
/// </summary>
public sealed class Int8A16GemmTests
{
    private static readonly (int M, int K, int N)[] Shapes =
    [
        (1, 1, 1), (1, 7, 65), (1, 384, 100), (2, 33, 31), (3, 64, 64), (4, 17, 97), (5, 300, 33), (7, 7, 7), (9, 65, 40),
        (12, 32, 32), (16, 384, 130), (17, 31, 33), (32, 1536, 40), (33, 257, 7), (64, 40, 70), (100, 65, 40), (230, 300, 33),
    ];

    public static TheoryData<SimdLevel, int> Paths() => TensorTestData.LevelsOnOneAndTwoThreads();

    [Theory]
    [MemberData(nameof(Paths))]
    public void Products_have_the_bits_of_the_definition(SimdLevel simd, int threads)
    {
        var ctx = new ComputeContext(threads, simd);
        int seed = 300;
        foreach (var (m, k, n) in Shapes)
        {
            var a = TensorTestData.Random(m * k, seed++);
            var w = TensorTestData.Random(n * k, seed++);
            var bias = TensorTestData.Random(n, seed++);
            if (m > 2)
            {
                a.AsSpan(k, k).Clear(); // an all-zero row
            }

            var packed = PackedMatrix.Pack(w, n, k, WeightFormat.Int8A16);
            foreach (bool withBias in new[] { false, true })
            {
                foreach (bool accumulate in new[] { false, true })
                {
                    var initial = TensorTestData.Random(m * n, seed++);
                    var expected = (float[])initial.Clone();
                    var actual = (float[])initial.Clone();
                    var b = withBias ? bias : null;
                    Definition(a, m, w, n, k, b, expected, accumulate);
                    Gemm.MultiplyTransposed(ctx, a, m, packed, b, actual, accumulate);
                    AssertSameBits(expected, actual, $"{simd}/{threads}t {m}x{k}x{n} bias={withBias} acc={accumulate}");
                }
            }
        }
    }

    [Fact]
    public void A_row_gets_the_same_bits_alone_and_in_any_batch()
    {
        const int k = 384, n = 96;
        var w = TensorTestData.Random(n * k, 8);
        var packed = PackedMatrix.Pack(w, n, k, WeightFormat.Int8A16);
        var a = TensorTestData.Random(32 * k, 9);
        var all = new float[32 * n];
        Gemm.MultiplyTransposed(new ComputeContext(2), a, 32, packed, default, all);
        foreach (int rows in new[] { 1, 2, 3, 5, 8, 13 })
        {
            for (int first = 0; first + rows <= 32; first += 7)
            {
                var part = new float[rows * n];
                Gemm.MultiplyTransposed(new ComputeContext(1), a.AsSpan(first * k, rows * k), rows, packed, default, part);
                AssertSameBits(all.AsSpan(first * n, rows * n).ToArray(), part, $"rows {first}..{first + rows}");
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(384)]
    [InlineData(1535)]
    [InlineData(1536)]
    [InlineData(4096)]
    public void The_activation_limit_keeps_the_largest_sum_inside_int32(int k)
    {
        int limit = GemmKernels.ActivationLimit(k);
        long kEven = k + (k & 1);
        Assert.InRange(limit, 1, 32767);
        Assert.True(kEven * 127 * limit <= int.MaxValue, $"K = {k}: {kEven}·127·{limit} overflows");
        Assert.True(limit == 32767 || kEven * 127 * (limit + 1) > int.MaxValue, $"K = {k}: {limit} is not the largest safe limit");

        // Every weight and activation at its extreme, signs aligned: the exact sum is the bound itself.
        const int m = 2, n = 33;
        var a = new float[m * k];
        var w = new float[n * k];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = i < k ? 3f : (i % 2 == 0 ? -2f : 2f);
        }

        for (int i = 0; i < w.Length; i++)
        {
            w[i] = (i / k) % 2 == 0 ? 0.5f : ((i % k) % 2 == 0 ? -0.25f : 0.25f);
        }

        var expected = new float[m * n];
        var actual = new float[m * n];
        Definition(a, m, w, n, k, null, expected, false);
        Gemm.MultiplyTransposed(new ComputeContext(2), a, m, PackedMatrix.Pack(w, n, k, WeightFormat.Int8A16), default, actual);
        AssertSameBits(expected, actual, $"K = {k}");
        Assert.Equal(3f * 0.5f * k, actual[0], 3f * 0.5f * k * 1e-5f); // the scales undo the fixed point
    }

    [Fact]
    public void Products_deeper_than_the_16_bit_limit_allows_are_refused_by_name()
    {
        Assert.True(GemmKernels.ActivationLimit(GemmKernels.MaxInt8A16Depth) >= 256);
        Assert.True(GemmKernels.ActivationLimit(GemmKernels.MaxInt8A16Depth + 2) < 256);
        int cols = GemmKernels.MaxInt8A16Depth + 1;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => PackedMatrix.Pack(new float[cols], 1, cols, WeightFormat.Int8A16));
        Assert.Equal("cols", e.ParamName);
        Assert.Contains(GemmKernels.MaxInt8A16Depth.ToString(System.Globalization.CultureInfo.InvariantCulture), e.Message, StringComparison.Ordinal);
        Assert.Equal(GemmKernels.MaxInt8A16Depth, PackedMatrix.Pack(new float[cols - 1], 1, cols - 1, WeightFormat.Int8A16).Cols);
    }

    [Fact]
    public void A_row_with_a_nan_or_an_infinity_gives_nan_only_in_its_own_outputs()
    {
        const int m = 3, k = 40, n = 35;
        var a = TensorTestData.Random(m * k, 4);
        a[5] = float.NaN;
        a[(2 * k) + 7] = float.PositiveInfinity;
        var c = new float[m * n];
        Gemm.MultiplyTransposed(ComputeContext.Default, a, m, PackedMatrix.Pack(TensorTestData.Random(n * k, 5), n, k, WeightFormat.Int8A16), default, c);
        Assert.All(c.AsSpan(0, n).ToArray(), v => Assert.True(float.IsNaN(v)));
        Assert.All(c.AsSpan(n, n).ToArray(), v => Assert.True(float.IsFinite(v)));
        Assert.All(c.AsSpan(2 * n, n).ToArray(), v => Assert.True(float.IsNaN(v)));
    }

    [Fact]
    public void Packing_stores_the_int8_values_and_scales()
    {
        foreach (var (n, k) in new[] { (45, 70), (33, 7), (64, 1) })
        {
            var w = TensorTestData.Random(n * k, n + k);
            var int8 = new float[n * k];
            var pairs = new float[n * k];
            PackedMatrix.Pack(w, n, k, WeightFormat.Int8).CopyTo(int8);
            var packed = PackedMatrix.Pack(w, n, k, WeightFormat.Int8A16);
            packed.CopyTo(pairs);
            Assert.Equal(int8, pairs);
            Assert.Equal(WeightFormat.Int8A16, packed.Format);
            long panels = (n + 31) / 32;
            Assert.Equal((panels * 32 * (k + (k & 1))) + (panels * 32 * sizeof(float)), packed.WeightBytes);
        }
    }

    /// <summary>The format's definition with 64-bit sums (which must still fit in int32: the kernels sum in int32).</summary>
    private static void Definition(float[] a, int m, float[] w, int n, int k, float[]? bias, float[] c, bool accumulate)
    {
        long kEven = k + (k & 1);
        int limit = (int)Math.Min(32767, int.MaxValue / (127 * kEven));
        var qw = new int[n * k];
        var sw = new float[n];
        for (int j = 0; j < n; j++)
        {
            float max = 0;
            for (int p = 0; p < k; p++)
            {
                max = Math.Max(max, MathF.Abs(w[(j * k) + p]));
            }

            sw[j] = max / 127f;
            for (int p = 0; p < k; p++)
            {
                qw[(j * k) + p] = sw[j] == 0 ? 0 : (int)Math.Clamp(MathF.Round(w[(j * k) + p] / sw[j], MidpointRounding.ToEven), -127f, 127f);
            }
        }

        var qa = new int[k];
        for (int i = 0; i < m; i++)
        {
            float max = 0;
            bool finite = true;
            for (int p = 0; p < k; p++)
            {
                float x = a[(i * k) + p];
                finite &= float.IsFinite(x);
                max = Math.Max(max, MathF.Abs(x));
            }

            float sa = !finite ? float.NaN : max / limit;
            float inv = limit / max;
            for (int p = 0; p < k; p++)
            {
                qa[p] = !finite || max == 0 ? 0 : (int)Math.Clamp(MathF.Round(a[(i * k) + p] * inv, MidpointRounding.ToEven), -limit, limit);
            }

            for (int j = 0; j < n; j++)
            {
                long sum = 0;
                for (int p = 0; p < k; p++)
                {
                    sum += (long)qa[p] * qw[(j * k) + p];
                }

                Assert.InRange(sum, int.MinValue, int.MaxValue);
                float y = (float)sum * (sa * sw[j]);
                if (bias is not null)
                {
                    y += bias[j];
                }

                c[(i * n) + j] = accumulate ? c[(i * n) + j] + y : y;
            }
        }
    }

    private static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]) && !(float.IsNaN(expected[i]) && float.IsNaN(actual[i])))
            {
                Assert.Fail($"{what}: element {i}: expected {expected[i]:R}, got {actual[i]:R}");
            }
        }
    }
}
