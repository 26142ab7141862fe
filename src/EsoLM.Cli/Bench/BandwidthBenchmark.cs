using System.Diagnostics;
using System.Runtime.Intrinsics;
using EsoLM.Tensors;

namespace EsoLM.Cli.Bench;

/// <summary>GB/s of one weight-streaming product (C[m, n] = A[m, k]·Wᵀ, W packed in <see cref="Format"/>).</summary>
/// <param name="Format">Weight storage.</param>
/// <param name="M">Rows of A.</param>
/// <param name="K">Inner dimension.</param>
/// <param name="N">Outputs.</param>
/// <param name="GBps">Packed weight bytes per second, best run.</param>
/// <param name="MedianGBps">Median run.</param>
/// <param name="Gflops">GFLOP/s of the best run.</param>
internal sealed record GemvMeasurement(WeightFormat Format, int M, int K, int N, double GBps, double MedianGBps, double Gflops);

/// <summary>
/// Memory-bound kernels of decoding: the vocabulary-head GEMV (and a 16-row product) in each weight format, measured
/// beside a parallel copy and a parallel read of a buffer far larger than the caches, all on the kernels' worker pool and
/// interleaved in one loop so the ceiling and the kernels see the same machine conditions.
/// </summary>
internal static unsafe class BandwidthBenchmark
{
    /// <summary>The measured shapes (M, K, N): the vocabulary head of the sampling benchmark's model at batch 1 and 16.</summary>
    public static readonly (int M, int K, int N)[] Shapes = [(1, 384, 50258), (16, 384, 50258)];

    private const long BufferBytes = 256L << 20;

    /// <summary>
    /// Measures copy and read bandwidth and every (shape, format) GEMV for at least <paramref name="seconds"/> in total;
    /// returns the best copy GB/s (bytes read + written), the best read GB/s, and the products.
    /// </summary>
    public static (double CopyGBps, double ReadGBps, IReadOnlyList<GemvMeasurement> Gemv) Run(ComputeContext context, double seconds = 6)
    {
        ArgumentNullException.ThrowIfNull(context);
        var rng = new Random(11);
        var cases = new List<(WeightFormat Format, int M, int K, int N, PackedMatrix W, float[] A, float[] C, List<double> Rates)>();
        foreach (var (m, k, n) in Shapes)
        {
            var w = new float[n * k];
            var a = new float[m * k];
            for (int i = 0; i < w.Length; i++)
            {
                w[i] = (float)(rng.NextDouble() - 0.5) * 0.05f;
            }

            for (int i = 0; i < a.Length; i++)
            {
                a[i] = (float)(rng.NextDouble() - 0.5);
            }

            foreach (var f in new[] { WeightFormat.Float32, WeightFormat.BFloat16, WeightFormat.Int8, WeightFormat.Int8A16 })
            {
                cases.Add((f, m, k, n, PackedMatrix.Pack(w, n, k, f), a, new float[m * n], []));
            }
        }

        var source = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)BufferBytes, 64);
        var target = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)BufferBytes, 64);
        try
        {
            new Span<byte>(source, (int)BufferBytes).Fill(1);
            new Span<byte>(target, (int)BufferBytes).Clear();
            var args = new StreamArgs { Source = source, Target = target, Bytes = BufferBytes, Tasks = context.MaxDegreeOfParallelism * 4 };
            int threads = context.MaxDegreeOfParallelism;
            double bestCopy = 0, bestRead = 0;

            // Warm-up (tier-1 JIT of every kernel), then interleave.
            var warm = Stopwatch.StartNew();
            while (warm.Elapsed.TotalSeconds < 1.0)
            {
                foreach (var c in cases)
                {
                    Gemm.MultiplyTransposed(context, c.A, c.M, c.W, default, c.C);
                }

                WorkerPool.Run(threads, args.Tasks, &CopyTask, &args);
                WorkerPool.Run(threads, args.Tasks, &ReadTask, &args);
            }

            var sw = Stopwatch.StartNew();
            while (sw.Elapsed.TotalSeconds < seconds)
            {
                long t0 = Stopwatch.GetTimestamp();
                WorkerPool.Run(threads, args.Tasks, &CopyTask, &args);
                bestCopy = Math.Max(bestCopy, 2.0 * BufferBytes / Stopwatch.GetElapsedTime(t0).TotalSeconds);
                t0 = Stopwatch.GetTimestamp();
                WorkerPool.Run(threads, args.Tasks, &ReadTask, &args);
                bestRead = Math.Max(bestRead, BufferBytes / Stopwatch.GetElapsedTime(t0).TotalSeconds);
                foreach (var c in cases)
                {
                    // Several calls per timing so each lasts a few milliseconds; the weights (20–80 MB) do not fit the caches.
                    const int reps = 3;
                    t0 = Stopwatch.GetTimestamp();
                    for (int r = 0; r < reps; r++)
                    {
                        Gemm.MultiplyTransposed(context, c.A, c.M, c.W, default, c.C);
                    }

                    c.Rates.Add(reps * c.W.WeightBytes / Stopwatch.GetElapsedTime(t0).TotalSeconds);
                }
            }

            var list = new List<GemvMeasurement>();
            foreach (var c in cases)
            {
                c.Rates.Sort();
                double best = c.Rates[^1];
                list.Add(new GemvMeasurement(c.Format, c.M, c.K, c.N, best / 1e9, c.Rates[c.Rates.Count / 2] / 1e9,
                    2.0 * c.M * c.K * c.N * (best / c.W.WeightBytes) / 1e9));
            }

            if (args.Sink == 12345)
            {
                Console.Error.WriteLine();
            }

            return (bestCopy / 1e9, bestRead / 1e9, list);
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(source);
            System.Runtime.InteropServices.NativeMemory.AlignedFree(target);
        }
    }

    private static void CopyTask(void* argsPointer, int task)
    {
        var g = (StreamArgs*)argsPointer;
        long chunk = g->Bytes / g->Tasks;
        Buffer.MemoryCopy(g->Source + (task * chunk), g->Target + (task * chunk), chunk, chunk);
    }

    private static void ReadTask(void* argsPointer, int task)
    {
        var g = (StreamArgs*)argsPointer;
        long chunk = g->Bytes / g->Tasks;
        float* p = (float*)(g->Source + (task * chunk));
        long n = chunk / sizeof(float);
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
        for (long i = 0; i + 64 <= n; i += 64)
        {
            s0 += Vector512.Load(p + i);
            s1 += Vector512.Load(p + i + 16);
            s2 += Vector512.Load(p + i + 32);
            s3 += Vector512.Load(p + i + 48);
        }

        if (Vector512.Sum(s0 + s1 + s2 + s3) == 12345f)
        {
            g->Sink = 12345;
        }
    }

    private struct StreamArgs
    {
        public byte* Source;
        public byte* Target;
        public long Bytes;
        public int Tasks;
        public int Sink;
    }
}
