using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Text.Json;
using EsoLM.Tensors;

namespace EsoLM.Cli.Bench;

/// <summary>GFLOP/s of one GEMM shape (C[m, n] = A[m, k]·Wᵀ with W pre-packed).</summary>
/// <param name="M">Rows of A.</param>
/// <param name="K">Inner dimension.</param>
/// <param name="N">Outputs.</param>
/// <param name="Gflops">Best of the timed runs.</param>
/// <param name="MedianGflops">Median of the timed runs.</param>
internal sealed record GemmMeasurement(int M, int K, int N, double Gflops, double MedianGflops);

/// <summary>Result of <see cref="KernelBenchmark.Run"/>; <see cref="Extra"/> carries fields other benchmarks append.</summary>
/// <param name="Threads">Threads used.</param>
/// <param name="Simd">SIMD width used.</param>
/// <param name="Gemm">The GEMM shapes.</param>
/// <param name="FmaCeilingGflops">Pure FMA-loop throughput on all <paramref name="Threads"/> threads in the same run (best
/// seen, alone and interleaved with the largest GEMM).</param>
/// <param name="GemmPeakRatio">GFLOP/s of the largest GEMM shape divided by <paramref name="FmaCeilingGflops"/>.</param>
/// <param name="AttentionGflops">One-head attention GFLOP/s (single thread, as the kernel is called per head).</param>
/// <param name="AttentionQueriesPerSecond">Queries per second of the attention measurement.</param>
internal sealed record KernelBenchmarkResult(int Threads, SimdLevel Simd, IReadOnlyList<GemmMeasurement> Gemm,
    double FmaCeilingGflops, double GemmPeakRatio, double AttentionGflops, double AttentionQueriesPerSecond)
{
    /// <summary>Extra numeric fields written after the kernel ones, in insertion order (e.g. forward_tokens_per_second).</summary>
    public IList<KeyValuePair<string, double>> Extra { get; } = new List<KeyValuePair<string, double>>();

    /// <summary>Copy and read bandwidth and the weight-streaming products of the same run, or null when not measured.</summary>
    public (double CopyGBps, double ReadGBps, IReadOnlyList<GemvMeasurement> Gemv)? Bandwidth { get; set; }
}

/// <summary>
/// The <c>esolm bench kernels</c> measurements: GEMM at the model's shapes, an FMA ceiling and attention.
/// Each shape is warmed up for at least <see cref="WarmUp"/> (tier-1 JIT with AVX-512 needs that) and then timed in
/// several runs; the best and the median are reported.
/// </summary>
internal static class KernelBenchmark
{
    /// <summary>The GEMM shapes (M, K, N): a decode GEMV, a 128-token block, a 1024-token MLP projection.</summary>
    public static readonly (int M, int K, int N)[] GemmShapes = [(1, 768, 2304), (128, 768, 2304), (1024, 768, 3072)];

    /// <summary>Minimum warm-up per measured kernel.</summary>
    public static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(0.5);

    /// <summary>Maximum warm-up per measured kernel.</summary>
    public static readonly TimeSpan MaxWarmUp = TimeSpan.FromSeconds(3);

    /// <summary>Minimum total time of the timed runs per kernel.</summary>
    public static readonly TimeSpan MinTimed = TimeSpan.FromSeconds(1.5);

    private const int Runs = 21;

    // One FMA call per thread lasts about as long as one call of the largest GEMM (~5–10 ms).
    private const long FmaIterations = 3_000_000;
    private const double RunSeconds = 0.02;

    /// <summary>Runs every measurement on <paramref name="threads"/> threads (≤ 0: all cores).</summary>
    public static KernelBenchmarkResult Run(int threads = -1, SimdLevel simd = SimdLevel.Auto)
    {
        var ctx = new ComputeContext(threads, simd);
        var gemm = new List<GemmMeasurement>();
        foreach (var (m, k, n) in GemmShapes)
        {
            gemm.Add(MeasureGemm(ctx, m, k, n));
        }

        double ceiling = MeasureFmaCeiling(ctx.MaxDegreeOfParallelism, ctx.Simd);

        // Interleave the largest GEMM with the FMA loop (calls of similar length) so that both best-ofs are taken
        // under the same machine conditions; keep the best of everything seen.
        var (m0, k0, n0) = GemmShapes[^1];
        var (gemmBest, fmaBest) = Interleaved(ctx, m0, k0, n0);
        var last = gemm[^1];
        gemm[^1] = last with { Gflops = Math.Max(last.Gflops, gemmBest) };
        ceiling = Math.Max(ceiling, fmaBest);
        var (attnGflops, attnQps) = MeasureAttention(ctx.Simd);
        return new KernelBenchmarkResult(ctx.MaxDegreeOfParallelism, ctx.Simd, gemm, ceiling, gemm[^1].Gflops / ceiling, attnGflops, attnQps);
    }

    /// <summary>
    /// Alternates single timed calls of the GEMM <paramref name="m"/>×<paramref name="k"/>×<paramref name="n"/> and of
    /// the FMA loop for <see cref="MinTimed"/>; returns the best GFLOP/s of each.
    /// </summary>
    public static unsafe (double Gemm, double Fma) Interleaved(ComputeContext context, int m, int k, int n)
    {
        ArgumentNullException.ThrowIfNull(context);
        var rng = new Random(43);
        var a = new float[m * k];
        var w = new float[n * k];
        var c = new float[m * n];
        Fill(rng, a);
        Fill(rng, w);
        var packed = PackedMatrix.Pack(w, n, k);
        int threads = context.MaxDegreeOfParallelism;
        int lanes = context.Simd == SimdLevel.Vector512 ? 16 : context.Simd == SimdLevel.Vector256 ? 8 : 1;
        var args = (FmaArgs*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)sizeof(FmaArgs));
        try
        {
            *args = new FmaArgs { Iterations = FmaIterations, Simd = context.Simd };
            double fmaFlops = 2.0 * 12 * lanes * FmaIterations * threads, gemmFlops = 2.0 * m * n * k;
            double bestGemm = 0, bestFma = 0;
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < MinTimed)
            {
                long t0 = Stopwatch.GetTimestamp();
                Gemm.MultiplyTransposed(context, a, m, packed, default, c);
                bestGemm = Math.Max(bestGemm, gemmFlops / Stopwatch.GetElapsedTime(t0).TotalSeconds);
                t0 = Stopwatch.GetTimestamp();
                RunFma(threads, args);
                bestFma = Math.Max(bestFma, fmaFlops / Stopwatch.GetElapsedTime(t0).TotalSeconds);
            }

            return (bestGemm / 1e9, bestFma / 1e9);
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free(args);
        }
    }

    /// <summary>
    /// GFLOP/s of the three products of one training layer at the bench-train shape (the 4 × 256 MLP up-projection:
    /// <paramref name="rows"/> token rows, <paramref name="inputs"/> → <paramref name="outputs"/>), timed one after the
    /// other in this process: forward Y = X·Wᵀ (W pre-packed), input gradient dX = dY·W (W packed per call, as in the
    /// step) and weight gradient dW += dYᵀ·X (the reduction over all rows). The three have the same FLOPs.
    /// </summary>
    public static (double Forward, double InputGradient, double WeightGradient) MeasureTrainingProducts(ComputeContext context,
        int rows = 6144, int inputs = 256, int outputs = 1024)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        var rng = new Random(44);
        var x = new float[rows * inputs];
        var dy = new float[rows * outputs];
        var w = new float[outputs * inputs];
        var y = new float[rows * outputs];
        var dx = new float[rows * inputs];
        var dw = new float[outputs * inputs];
        Fill(rng, x);
        Fill(rng, dy);
        Fill(rng, w);
        var packed = PackedMatrix.Pack(w, outputs, inputs);
        double flops = 2.0 * rows * inputs * outputs;
        var (forward, _) = Time(() => Gemm.MultiplyTransposed(context, x, rows, packed, default, y), flops);
        var (input, _) = Time(() => Gemm.Multiply(context, dy, w, dx, rows, inputs, outputs), flops);
        var (weight, _) = Time(() =>
        {
            Array.Clear(dw);
            EsoLM.Modeling.TrainingKernels.WeightGradient(context, dy, x, dw, outputs, inputs, rows);
        }, flops);
        return (forward / 1e9, input / 1e9, weight / 1e9);
    }

    /// <summary>Measures one GEMM shape.</summary>
    public static GemmMeasurement MeasureGemm(ComputeContext context, int m, int k, int n)
    {
        ArgumentNullException.ThrowIfNull(context);
        var rng = new Random(42);
        var a = new float[m * k];
        var w = new float[n * k];
        var bias = new float[n];
        var c = new float[m * n];
        Fill(rng, a);
        Fill(rng, w);
        Fill(rng, bias);
        var packed = PackedMatrix.Pack(w, n, k);
        double flops = 2.0 * m * n * k;
        var (best, median) = Time(() => Gemm.MultiplyTransposed(context, a, m, packed, bias, c), flops);
        return new GemmMeasurement(m, k, n, best / 1e9, median / 1e9);
    }

    /// <summary>
    /// GFLOP/s of a pure FMA loop (12 independent accumulators per thread, no memory traffic) run as
    /// <paramref name="threads"/> tasks on the kernels' own worker pool and timed exactly like the GEMMs, so the ratio
    /// GEMM / ceiling compares the two under the same scheduling conditions (on a shared machine, short-lived fresh
    /// threads get scheduler credit that long-running kernel workers do not).
    /// </summary>
    public static unsafe double MeasureFmaCeiling(int threads, SimdLevel simd)
    {
        int lanes = simd == SimdLevel.Vector512 ? 16 : simd == SimdLevel.Vector256 ? 8 : 1;
        var args = (FmaArgs*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)sizeof(FmaArgs));
        try
        {
            *args = new FmaArgs { Iterations = FmaIterations, Simd = simd };
            double flops = 2.0 * 12 * lanes * args->Iterations * threads;
            var (best, _) = Time(() => RunFma(threads, args), flops);
            return best / 1e9;
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free(args);
        }
    }

    private static unsafe void RunFma(int threads, FmaArgs* args) => WorkerPool.Run(threads, threads, &FmaTask, args);

    private static unsafe void FmaTask(void* argsPointer, int task)
    {
        var args = (FmaArgs*)argsPointer;
        float r = args->Simd switch
        {
            SimdLevel.Vector512 => Fma512(args->Iterations),
            SimdLevel.Vector256 => Fma256(args->Iterations),
            _ => FmaScalar(args->Iterations),
        };
        if (r == 12345.678f)
        {
            args->Sink = r;
        }
    }

    private struct FmaArgs
    {
        public long Iterations;
        public SimdLevel Simd;
        public float Sink;
    }

    /// <summary>
    /// One head of attention: 256 queries, 1024 key slots, head width 64, each query seeing a causal prefix plus a
    /// second range (the Eso-LM sequential mask shape). Returns (GFLOP/s, queries/s), single-threaded.
    /// </summary>
    public static (double Gflops, double QueriesPerSecond) MeasureAttention(SimdLevel simd)
    {
        const int slots = 1024, d = 64, queries = 256;
        var rng = new Random(7);
        var keys = new float[slots * d];
        var values = new float[slots * d];
        var q = new float[queries * d];
        var o = new float[queries * d];
        Fill(rng, keys);
        Fill(rng, values);
        Fill(rng, q);
        var visible = new KeyRange[queries];
        long visibleKeys = 0;
        for (int r = 0; r < queries; r++)
        {
            int split = 512 + (r * 3 / 2);
            visible[r] = new KeyRange(0, split, slots - 64, slots);
            visibleKeys += visible[r].Count;
        }

        double flops = 4.0 * d * visibleKeys;
        var (best, _) = Time(() => Attention.AttendHead(simd, q, d, queries, keys, values, d, visible, o, d, 0.125f), flops);
        return (best / 1e9, best / flops * queries);
    }

    /// <summary>Writes the result as one JSON object with snake_case keys.</summary>
    public static void WriteJson(Utf8JsonWriter writer, KernelBenchmarkResult result)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(result);
        writer.WriteStartObject();
        writer.WriteNumber("threads", result.Threads);
        writer.WriteString("simd", result.Simd.ToString());
        writer.WriteStartArray("gemm");
        foreach (var g in result.Gemm)
        {
            writer.WriteStartObject();
            writer.WriteNumber("m", g.M);
            writer.WriteNumber("k", g.K);
            writer.WriteNumber("n", g.N);
            writer.WriteNumber("gflops", Math.Round(g.Gflops, 2));
            writer.WriteNumber("gflops_median", Math.Round(g.MedianGflops, 2));
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteNumber("fma_ceiling_gflops", Math.Round(result.FmaCeilingGflops, 2));
        writer.WriteNumber("gemm_peak_ratio", Math.Round(result.GemmPeakRatio, 4));
        writer.WriteNumber("attention_gflops", Math.Round(result.AttentionGflops, 2));
        writer.WriteNumber("attention_queries_per_second", Math.Round(result.AttentionQueriesPerSecond, 0));
        if (result.Bandwidth is { } bw)
        {
            writer.WriteNumber("copy_gbps", Math.Round(bw.CopyGBps, 2));
            writer.WriteNumber("read_gbps", Math.Round(bw.ReadGBps, 2));
            writer.WriteStartArray("gemv");
            foreach (var g in bw.Gemv)
            {
                writer.WriteStartObject();
                writer.WriteString("weights", WeightsName(g.Format));
                writer.WriteNumber("m", g.M);
                writer.WriteNumber("k", g.K);
                writer.WriteNumber("n", g.N);
                writer.WriteNumber("gbps", Math.Round(g.GBps, 2));
                writer.WriteNumber("gbps_median", Math.Round(g.MedianGBps, 2));
                writer.WriteNumber("gflops", Math.Round(g.Gflops, 2));
                writer.WriteNumber("of_copy", Math.Round(g.GBps / bw.CopyGBps, 4));
                writer.WriteNumber("of_read", Math.Round(g.GBps / bw.ReadGBps, 4));
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        foreach (var (name, value) in result.Extra)
        {
            writer.WriteNumber(name, value);
        }

        writer.WriteEndObject();
    }

    /// <summary>The CLI name of a weight format: fp32, bf16, int8, int8a16.</summary>
    public static string WeightsName(WeightFormat format) => format switch
    {
        WeightFormat.BFloat16 => "bf16",
        WeightFormat.Int8 => "int8",
        WeightFormat.Int8A16 => "int8a16",
        _ => "fp32",
    };

    /// <summary>The result as one JSON line.</summary>
    public static string ToJson(KernelBenchmarkResult result)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            WriteJson(writer, result);
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>
    /// Warms <paramref name="action"/> up for at least <see cref="WarmUp"/> and then until its speed stops improving
    /// (tier-1 re-JIT of ReadyToRun code such as TensorPrimitives can take a second or more on a loaded machine; at most
    /// <see cref="MaxWarmUp"/>), then times at least <see cref="Runs"/> runs (and at least <see cref="MinTimed"/>) of enough repetitions to last about 20 ms each (many short runs catch quiet moments on a shared machine).
    /// Returns (best, median) in flop/s.
    /// </summary>
    public static (double Best, double Median) Time(Action action, double flopsPerCall)
    {
        ArgumentNullException.ThrowIfNull(action);
        var total = Stopwatch.StartNew();
        double bestWindow = 0;
        int stale = 0;
        long calls = 0;
        while (total.Elapsed < MaxWarmUp && (total.Elapsed < WarmUp || stale < 4))
        {
            long t0 = Stopwatch.GetTimestamp();
            long windowCalls = 0;
            while (Stopwatch.GetElapsedTime(t0).TotalSeconds < 0.1 || windowCalls < 2)
            {
                action();
                windowCalls++;
            }

            calls += windowCalls;
            double rate = windowCalls / Stopwatch.GetElapsedTime(t0).TotalSeconds;
            stale = rate > bestWindow * 1.03 ? 0 : stale + 1;
            bestWindow = Math.Max(bestWindow, rate);
        }

        double perCall = 1 / bestWindow;
        int reps = (int)Math.Clamp(RunSeconds / perCall, 1, 1_000_000);
        var rates = new List<double>();
        var timed = Stopwatch.StartNew();
        while (rates.Count < Runs || (timed.Elapsed < MinTimed && rates.Count < 1000))
        {
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < reps; i++)
            {
                action();
            }

            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            rates.Add(flopsPerCall * reps / seconds);
        }

        rates.Sort();
        return (rates[^1], rates[rates.Count / 2]);
    }

    private static void Fill(Random rng, float[] data)
    {
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (float)(rng.NextDouble() - 0.5);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Fma512(long iterations)
    {
        var x = Vector512.Create(0.999f);
        var y = Vector512.Create(1e-7f);
        Vector512<float> a0 = Vector512.Create(0f), a1 = Vector512.Create(1f), a2 = Vector512.Create(2f), a3 = Vector512.Create(3f),
            a4 = Vector512.Create(4f), a5 = Vector512.Create(5f), a6 = Vector512.Create(6f), a7 = Vector512.Create(7f),
            a8 = Vector512.Create(8f), a9 = Vector512.Create(9f), a10 = Vector512.Create(10f), a11 = Vector512.Create(11f);
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, x, y);
            a1 = Vector512.FusedMultiplyAdd(a1, x, y);
            a2 = Vector512.FusedMultiplyAdd(a2, x, y);
            a3 = Vector512.FusedMultiplyAdd(a3, x, y);
            a4 = Vector512.FusedMultiplyAdd(a4, x, y);
            a5 = Vector512.FusedMultiplyAdd(a5, x, y);
            a6 = Vector512.FusedMultiplyAdd(a6, x, y);
            a7 = Vector512.FusedMultiplyAdd(a7, x, y);
            a8 = Vector512.FusedMultiplyAdd(a8, x, y);
            a9 = Vector512.FusedMultiplyAdd(a9, x, y);
            a10 = Vector512.FusedMultiplyAdd(a10, x, y);
            a11 = Vector512.FusedMultiplyAdd(a11, x, y);
        }

        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Fma256(long iterations)
    {
        var x = Vector256.Create(0.999f);
        var y = Vector256.Create(1e-7f);
        Vector256<float> a0 = Vector256.Create(0f), a1 = Vector256.Create(1f), a2 = Vector256.Create(2f), a3 = Vector256.Create(3f),
            a4 = Vector256.Create(4f), a5 = Vector256.Create(5f), a6 = Vector256.Create(6f), a7 = Vector256.Create(7f),
            a8 = Vector256.Create(8f), a9 = Vector256.Create(9f), a10 = Vector256.Create(10f), a11 = Vector256.Create(11f);
        for (long i = 0; i < iterations; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, x, y);
            a1 = Vector256.FusedMultiplyAdd(a1, x, y);
            a2 = Vector256.FusedMultiplyAdd(a2, x, y);
            a3 = Vector256.FusedMultiplyAdd(a3, x, y);
            a4 = Vector256.FusedMultiplyAdd(a4, x, y);
            a5 = Vector256.FusedMultiplyAdd(a5, x, y);
            a6 = Vector256.FusedMultiplyAdd(a6, x, y);
            a7 = Vector256.FusedMultiplyAdd(a7, x, y);
            a8 = Vector256.FusedMultiplyAdd(a8, x, y);
            a9 = Vector256.FusedMultiplyAdd(a9, x, y);
            a10 = Vector256.FusedMultiplyAdd(a10, x, y);
            a11 = Vector256.FusedMultiplyAdd(a11, x, y);
        }

        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float FmaScalar(long iterations)
    {
        float a0 = 0, a1 = 1, a2 = 2, a3 = 3, x = 0.999f, y = 1e-7f;
        for (long i = 0; i < iterations * 3; i++)
        {
            a0 = MathF.FusedMultiplyAdd(a0, x, y);
            a1 = MathF.FusedMultiplyAdd(a1, x, y);
            a2 = MathF.FusedMultiplyAdd(a2, x, y);
            a3 = MathF.FusedMultiplyAdd(a3, x, y);
        }

        return a0 + a1 + a2 + a3;
    }
}
