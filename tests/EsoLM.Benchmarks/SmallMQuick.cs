using System.Diagnostics;
using System.Globalization;
using EsoLM.Tensors;

namespace EsoLM.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project tests/EsoLM.Benchmarks -- smallm [rounds] [threads] [MxKxN ...] [v256]</c>: the sampler's small-M
/// products (head 16/32 × 384 × 50258, block 32 × 384 × {1152, 384, 1536} and 32 × 1536 × 384) with fp32, bf16 and int8
/// weights; the low-precision ones both through the widen-into-a-buffer tiles ("old") and the register-widening tiles
/// ("new"), and int8a16 (integer products; its GFLOP/s count each multiply-add as two operations, like the others), timed
/// alternately in the same rounds (best and median GFLOP/s, and weight GB/s at the median). <c>v256</c> runs the Vector256
/// (AVX2) kernels instead of the widest.
/// </summary>
internal static unsafe class SmallMQuick
{
    public static void Run(string[] args)
    {
        int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 15;
        int threads = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2;
        var simd = args.Contains("v256") ? SimdLevel.Vector256 : SimdLevel.Auto;
        var given = args.Skip(3).Where(s => s.Contains('x', StringComparison.Ordinal)).ToArray();
        var shapes = given.Length > 0
            ? given.Select(s => s.Split('x').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray()).Select(v => (v[0], v[1], v[2])).ToArray()
            : new (int M, int K, int N)[] { (16, 384, 50258), (32, 384, 50258), (32, 384, 1152), (32, 384, 384), (32, 384, 1536), (32, 1536, 384), (16, 384, 1152) };
        var ctx = new ComputeContext(threads, simd);
        Console.WriteLine($"smallm {threads} threads, {rounds} rounds, simd {ctx.Simd}");
        foreach (var (m, k, n) in shapes)
        {
            var a = Data.Random(m * k, 1);
            var w = Data.Random(n * k, 2);
            var c = new float[m * n];
            var fp32 = PackedMatrix.Pack(w, n, k);
            var bf16 = PackedMatrix.Pack(w, n, k, WeightFormat.BFloat16);
            var int8 = PackedMatrix.Pack(w, n, k, WeightFormat.Int8);
            var int8a16 = PackedMatrix.Pack(w, n, k, WeightFormat.Int8A16);
            var cases = new (string Name, PackedMatrix W, bool Fused)[]
            {
                ("fp32", fp32, true), ("bf16 old", bf16, false), ("bf16 new", bf16, true), ("int8 old", int8, false), ("int8 new", int8, true),
                ("int8a16", int8a16, true),
            };
            int reps = Math.Max(1, (int)(2e8 / (2.0 * m * n * k)));
            var times = new double[cases.Length][];
            for (int i = 0; i < cases.Length; i++)
            {
                times[i] = new double[rounds];
                for (int warm = 0; warm < 3; warm++)
                {
                    Call(ctx, a, m, cases[i].W, c, cases[i].Fused, reps);
                }
            }

            for (int r = 0; r < rounds; r++)
            {
                for (int i = 0; i < cases.Length; i++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    Call(ctx, a, m, cases[i].W, c, cases[i].Fused, reps);
                    times[i][r] = Stopwatch.GetElapsedTime(t0).TotalSeconds / reps;
                }
            }

            for (int i = 0; i < cases.Length; i++)
            {
                Array.Sort(times[i]);
                double best = times[i][0], median = times[i][rounds / 2];
                double flops = 2.0 * m * n * k;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{m}x{k}x{n} {cases[i].Name,-9} best {flops / best / 1e9,7:F1} median {flops / median / 1e9,7:F1} GFLOP/s  {cases[i].W.WeightBytes / median / 1e9,6:F1} GB/s  {median * 1e6,9:F1} us"));
            }
        }
    }

    private static void Call(ComputeContext ctx, float[] a, int m, PackedMatrix w, float[] c, bool fused, int reps)
    {
        for (int rep = 0; rep < reps; rep++)
        {
            if (w.Format is WeightFormat.Float32 or WeightFormat.Int8A16)
            {
                Gemm.MultiplyTransposed(ctx, a, m, w, default, c);
                continue;
            }

            fixed (float* pa = a)
            fixed (float* pc = c)
            {
                GemmKernels.MultiplyLow(ctx.MaxDegreeOfParallelism, ctx.Simd, pa, w.Low, pc, null, m, w.Rows, w.Cols, false, fused);
            }

            w.KeepAlive();
        }
    }
}
