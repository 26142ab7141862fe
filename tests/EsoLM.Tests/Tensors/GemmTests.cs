using EsoLM.Tensors;
using Xunit;

namespace EsoLM.Tests.Tensors;

public sealed class GemmTests
{
    private static readonly (int M, int K, int N)[] Shapes =
    [
        (1, 1, 1), (1, 7, 65), (1, 768, 100), (2, 33, 31), (3, 64, 64), (5, 17, 97), (7, 7, 7), (11, 65, 40),
        (12, 32, 32), (13, 300, 33), (63, 1000, 7), (65, 65, 65), (1, 1000, 63), (100, 7, 129), (48, 257, 96),
        (97, 520, 200), (25, 40, 70), (36, 64, 33), (8, 40, 66), (16, 384, 1000), (32, 70, 300), (40, 300, 200), (64, 33, 500),
    ];

    public static TheoryData<SimdLevel, int> Paths() => TensorTestData.LevelsOnOneAndTwoThreads();

    [Theory]
    [MemberData(nameof(Paths))]
    public void MultiplyTransposed_matches_plain_loops(SimdLevel simd, int threads)
    {
        var ctx = new ComputeContext(threads, simd);
        int seed = 1;
        foreach (var (m, k, n) in Shapes)
        {
            var a = TensorTestData.Random(m * k, seed++);
            var w = TensorTestData.Random(n * k, seed++);
            var bias = TensorTestData.Random(n, seed++);
            var packed = PackedMatrix.Pack(w, n, k);
            double tol = 1e-5 * Math.Sqrt(k);
            foreach (bool withBias in new[] { false, true })
            {
                foreach (bool accumulate in new[] { false, true })
                {
                    var initial = TensorTestData.Random(m * n, seed++);
                    var expected = (float[])initial.Clone();
                    var actual = (float[])initial.Clone();
                    var b = withBias ? bias : ReadOnlySpan<float>.Empty;
                    ReferenceKernels.MultiplyTransposed(a, m, w, n, k, b, expected, accumulate);
                    Gemm.MultiplyTransposed(ctx, a, m, packed, b, actual, accumulate);
                    TensorTestData.AssertClose(expected, actual, tol, $"{simd}/{threads}t {m}x{k}x{n} bias={withBias} acc={accumulate}");
                }
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Rows_do_not_depend_on_the_tile_height_or_shared_packing(int threads)
    {
        // 16 and 32 rows take 8-row tiles (and A packed once for all tasks); 24 and 48 rows take 12-row tiles. The same
        // row must come out bit-identical, so a sequence's logits do not depend on how many others share its batch.
        var ctx = new ComputeContext(threads, SimdLevel.Auto);
        const int k = 300, n = 777;
        var a = TensorTestData.Random(48 * k, 5);
        var w = TensorTestData.Random(n * k, 6);
        var bias = TensorTestData.Random(n, 7);
        var packed = PackedMatrix.Pack(w, n, k);
        var full = new float[48 * n];
        Gemm.MultiplyTransposed(ctx, a, 48, packed, bias, full);
        foreach (int m in new[] { 16, 24, 32, 40 })
        {
            var part = new float[m * n];
            Gemm.MultiplyTransposed(ctx, a.AsSpan(0, m * k), m, packed, bias, part);
            Assert.True(part.AsSpan().SequenceEqual(full.AsSpan(0, m * n)), $"{m} rows differ from the same rows of a 48-row product");
        }
    }

    public static TheoryData<int, WeightFormat, bool> BatchCases()
    {
        var data = new TheoryData<int, WeightFormat, bool>();
        foreach (int threads in new[] { 1, 2 })
        {
            foreach (var format in new[] { WeightFormat.Float32, WeightFormat.BFloat16, WeightFormat.Int8 })
            {
                foreach (bool accumulate in new[] { false, true })
                {
                    data.Add(threads, format, accumulate);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(BatchCases))]
    public void Every_row_count_gives_the_bits_of_the_full_product(int threads, WeightFormat format, bool accumulate)
    {
        // A row of A is one token of one sequence: its output must not depend on how many rows share the product (the
        // small-M kernels below 12 rows, the 8- and 12-row tiles, any leftover rows), for every weight format, with a
        // bias, and when accumulating into C. Depth 600 spans three KC blocks.
        var ctx = new ComputeContext(threads, SimdLevel.Auto);
        const int k = 600, n = 203, rows = 48;
        var a = TensorTestData.Random(rows * k, 15);
        var w = TensorTestData.Random(n * k, 16);
        var bias = TensorTestData.Random(n, 17);
        var initial = TensorTestData.Random(rows * n, 18);
        var packed = PackedMatrix.Pack(w, n, k, format);
        var full = (float[])initial.Clone();
        Gemm.MultiplyTransposed(ctx, a, rows, packed, bias, full, accumulate);
        for (int m = 1; m < rows; m++)
        {
            for (int start = 0; start + m <= rows; start += Math.Max(1, rows / 3))
            {
                var part = initial.AsSpan(start * n, m * n).ToArray();
                Gemm.MultiplyTransposed(ctx, a.AsSpan(start * k, m * k), m, packed, bias, part, accumulate);
                Assert.True(part.AsSpan().SequenceEqual(full.AsSpan(start * n, m * n)),
                    $"{format}, {threads} threads: rows {start}..{start + m - 1} computed as a {m}-row product differ from the same rows of a {rows}-row product");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Multiply_matches_plain_loops_for_all_transposes(SimdLevel simd, int threads)
    {
        var ctx = new ComputeContext(threads, simd);
        int seed = 100;
        foreach (var (m, k, n) in Shapes)
        {
            var a = TensorTestData.Random(m * k, seed++);
            var b = TensorTestData.Random(n * k, seed++);
            double tol = 1e-5 * Math.Sqrt(k);
            foreach (bool ta in new[] { false, true })
            {
                foreach (bool tb in new[] { false, true })
                {
                    bool accumulate = (seed & 1) == 0;
                    var initial = TensorTestData.Random(m * n, seed++);
                    var expected = (float[])initial.Clone();
                    var actual = (float[])initial.Clone();
                    ReferenceKernels.Multiply(a, b, expected, m, n, k, ta, tb, accumulate);
                    Gemm.Multiply(ctx, a, b, actual, m, n, k, ta, tb, accumulate);
                    TensorTestData.AssertClose(expected, actual, tol, $"{simd}/{threads}t {m}x{k}x{n} tA={ta} tB={tb} acc={accumulate}");
                }
            }
        }
    }

    [Fact]
    public void Large_shape_matches_on_the_default_path()
    {
        const int m = 128, k = 384, n = 2304 / 2 + 5;
        var a = TensorTestData.Random(m * k, 7);
        var w = TensorTestData.Random(n * k, 8);
        var bias = TensorTestData.Random(n, 9);
        var expected = new float[m * n];
        var actual = new float[m * n];
        ReferenceKernels.MultiplyTransposed(a, m, w, n, k, bias, expected, false);
        Gemm.MultiplyTransposed(ComputeContext.Default, a, m, PackedMatrix.Pack(w, n, k), bias, actual);
        TensorTestData.AssertClose(expected, actual, 1e-5 * Math.Sqrt(k), "large");
    }

    [Theory]
    [InlineData(4)]
    [InlineData(6)]
    [InlineData(8)]
    [InlineData(12)]
    public unsafe void PackA_puts_every_element_where_the_tiles_read_it(int mr)
    {
        // Row-major A is transposed into mr-row, k-major panels (register transposes for 8 and 4 rows, element copies for
        // the rest); the definition, written out here: panel q/mr, step p, row r holds A[i0 + q + r, p0 + p], zero past mc.
        var rng = new Random(mr);
        foreach (var (m, k, i0, mc, p0, kc) in new[] { (40, 300, 3, 29, 5, 261), (16, 384, 0, 16, 0, 256), (9, 17, 1, 8, 0, 17), (33, 64, 0, 33, 32, 32), (5, 9, 0, 5, 1, 7) })
        {
            var a = new float[m * k];
            for (int i = 0; i < a.Length; i++)
            {
                a[i] = (float)rng.NextDouble();
            }

            int pad = (mc + mr - 1) / mr * mr;
            var actual = Enumerable.Repeat(float.NaN, pad * kc).ToArray();
            fixed (float* pa = a, pd = actual)
            {
                GemmKernels.PackA(pa, k, 1, i0, mc, p0, kc, mr, pd);
            }

            for (int q = 0; q < pad; q += mr)
            {
                for (int p = 0; p < kc; p++)
                {
                    for (int r = 0; r < mr; r++)
                    {
                        float expected = q + r < mc ? a[((i0 + q + r) * k) + p0 + p] : 0f;
                        Assert.True(expected.Equals(actual[(q * kc) + (p * mr) + r]), $"m {m} k {k} mc {mc} kc {kc}: panel {q / mr}, step {p}, row {r}");
                    }
                }
            }
        }
    }

    [Fact]
    public void Repack_replaces_values_and_round_trips()
    {
        const int n = 70, k = 33;
        var w1 = TensorTestData.Random(n * k, 1);
        var w2 = TensorTestData.Random(n * k, 2);
        var packed = PackedMatrix.Pack(w1, n, k);
        packed.Repack(w2);
        var back = new float[n * k];
        packed.CopyTo(back);
        Assert.Equal(w2, back);
        packed.Repack(new ComputeContext(2), w1);
        packed.CopyTo(back);
        Assert.Equal(w1, back);
        var big = TensorTestData.Random(300 * 301, 4);
        var bigPacked = PackedMatrix.Pack(new float[300 * 301], 300, 301);
        bigPacked.Repack(new ComputeContext(2), big);
        var bigBack = new float[300 * 301];
        bigPacked.CopyTo(bigBack);
        Assert.Equal(big, bigBack);
        packed.Repack(w2);
        packed.CopyTo(back);
        Assert.Equal(w2, back);
        Assert.Equal(3, packed.PanelCount);

        var a = TensorTestData.Random(3 * k, 3);
        var expected = new float[3 * n];
        var actual = new float[3 * n];
        ReferenceKernels.MultiplyTransposed(a, 3, w2, n, k, default, expected, false);
        Gemm.MultiplyTransposed(ComputeContext.Default, a, 3, packed, default, actual);
        TensorTestData.AssertClose(expected, actual, 1e-5 * Math.Sqrt(k), "repacked");
    }

    [Fact]
    public void Concurrent_callers_get_correct_results()
    {
        // Several threads share the one worker pool: one of them gets it, the others run inline.
        const int m = 30, k = 70, n = 90;
        var w = TensorTestData.Random(n * k, 1);
        var packed = PackedMatrix.Pack(w, n, k);
        var ctx = new ComputeContext(2);
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var a = TensorTestData.Random(m * k, 100 + i);
            var expected = new float[m * n];
            var actual = new float[m * n];
            ReferenceKernels.MultiplyTransposed(a, m, w, n, k, default, expected, false);
            for (int rep = 0; rep < 20; rep++)
            {
                Gemm.MultiplyTransposed(ctx, a, m, packed, default, actual);
                for (int j = 0; j < expected.Length; j++)
                {
                    if (Math.Abs(expected[j] - actual[j]) > 1e-4 * (1 + Math.Abs(expected[j])))
                    {
                        failures.Add($"call {i} rep {rep} element {j}");
                        return;
                    }
                }
            }
        });
        Assert.Empty(failures);
    }

    [Fact]
    public void Repack_rejects_a_wrong_length()
    {
        var packed = PackedMatrix.Pack(new float[6], 2, 3);
        Assert.Throws<ArgumentException>(() => packed.Repack(new float[5]));
    }

    [Fact]
    public void Kernels_do_not_allocate_after_warm_up()
    {
        var ctx = new ComputeContext(2, SimdLevel.Auto);
        const int m = 40, k = 300, n = 200;
        var a = TensorTestData.Random(m * k, 1);
        var b = TensorTestData.Random(n * k, 2);
        var c = new float[m * n];
        var packed = PackedMatrix.Pack(b, n, k);
        var w = TensorTestData.Random(n * k, 3);
        // Warm up both ways a call can run: spread over the pool, and inline on this thread (what happens when another
        // test holds the pool), so every per-thread scratch buffer of this thread has reached its working size.
        foreach (var warm in new[] { ctx, new ComputeContext(1, SimdLevel.Auto) })
        {
            for (int i = 0; i < 3; i++)
            {
                Gemm.MultiplyTransposed(warm, a, m, packed, default, c);
                Gemm.MultiplyTransposed(warm, a, 1, packed, default, c);
                Gemm.Multiply(warm, a, b, c, m, n, k, false, true);
                packed.Repack(w);
            }
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        Gemm.MultiplyTransposed(ctx, a, m, packed, default, c);
        Gemm.MultiplyTransposed(ctx, a, 1, packed, default, c);
        Gemm.Multiply(ctx, a, b, c, m, n, k, false, true);
        packed.Repack(w);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
