using System.Diagnostics;
using System.Globalization;
using EsoLM.Tensors;

namespace EsoLM.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project tests/EsoLM.Benchmarks -- quick [threads] [MxKxN ...]</c>: a fast best-of-N
/// GFLOP/s check for kernel work, without BenchmarkDotNet's full statistics.
/// </summary>
internal static unsafe class Quick
{
    private static void Attn()
    {
        const int slots = 1024, d = 64, queries = 256;
        var keys = Data.Random(slots * d, 1);
        var values = Data.Random(slots * d, 2);
        var q = Data.Random(queries * d, 3);
        var o = new float[queries * d];
        var visible = new KeyRange[queries];
        long visibleKeys = 0;
        for (int r = 0; r < queries; r++)
        {
            visible[r] = new KeyRange(0, 512 + r, slots - 64, slots);
            visibleKeys += visible[r].Count;
        }

        foreach (var level in new[] { SimdLevel.Vector512, SimdLevel.Vector256 })
        {
            double best = 0;
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed.TotalSeconds < double.Parse(Environment.GetEnvironmentVariable("WARM") ?? "0.5", CultureInfo.InvariantCulture))
            {
                Attention.AttendHead(level, q, d, queries, keys, values, d, visible, o, d, 0.125f);
            }

            for (int r = 0; r < 15; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                Attention.AttendHead(level, q, d, queries, keys, values, d, visible, o, d, 0.125f);
                best = Math.Max(best, 4.0 * d * visibleKeys / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9);
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"attention {level} 1t {best,8:F1} GFLOP/s ({best * 1e9 / (4.0 * d) / 3.5e9:F3} keys/cycle)"));
        }
    }

    private static void TileOnly()
    {
        const int kc = 256;
        float* a = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(12 * kc * 4 * 4, 64);
        float* b = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(32 * kc * 4, 64);
        float* c = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(48 * 32 * 4, 64);
        for (int i = 0; i < 12 * kc * 4; i++)
        {
            a[i] = 0.001f * (i % 7);
        }

        for (int i = 0; i < 32 * kc; i++)
        {
            b[i] = 0.001f * (i % 5);
        }

        double best = 0;
        for (int r = 0; r < 40; r++)
        {
            const int reps = 2000;
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < reps; i++)
            {
                for (int q = 0; q < 4; q++)
                {
                    GemmKernels.Tile512(kc, a + (q * 12 * kc), b, c + (q * 12 * 32), 32, null, true);
                }
            }

            best = Math.Max(best, 2.0 * 48 * 32 * kc * reps / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9);
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Tile512 L1-resident 1t {best,8:F1} GFLOP/s"));

        // The 8-row tiles of 16/32-row products: fp32, and bf16 widened in registers, on the same L1-resident block.
        ushort* b16 = (ushort*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(32 * kc * 2, 64);
        for (int i = 0; i < 32 * kc; i++)
        {
            b16[i] = LowPrecision.ToBFloat16(b[i]);
        }

        var low = new GemmKernels.LowB(WeightFormat.BFloat16, b16, null);
        foreach (bool bf16 in new[] { false, true, false, true })
        {
            double best8 = 0;
            for (int r = 0; r < 40; r++)
            {
                const int reps = 2000;
                long t0 = Stopwatch.GetTimestamp();
                for (int i = 0; i < reps; i++)
                {
                    for (int q = 0; q < 4; q++)
                    {
                        if (bf16)
                        {
                            GemmKernels.LowTile8(low, 0, kc, 0, kc, a + (q * 8 * kc), c + (q * 8 * 32), 32, null, true);
                        }
                        else
                        {
                            GemmKernels.Tile512x8(kc, a + (q * 8 * kc), b, c + (q * 8 * 32), 32, null, true);
                        }
                    }
                }

                best8 = Math.Max(best8, 2.0 * 32 * 32 * kc * reps / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9);
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(bf16 ? "LowTile8 bf16" : "Tile512x8 fp32"),-14} L1-resident 1t {best8,8:F1} GFLOP/s"));
        }
    }

    public static void Run(string[] args)
    {
        int threads = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : -1;
        var shapes = args.Length > 2 ? args[2..] : ["1x768x2304", "8x768x2304", "128x768x2304", "1024x768x3072", "mul:512x768x2304", "mulT:2304x768x512"];
        var ctx = new ComputeContext(threads);
        if (threads == 1)
        {
            TileOnly();
        }

        if (args.Length > 2 && args[2] == "repack")
        {
            foreach (var (rows, cols) in new[] { (2304, 768), (768, 3072), (50258, 768) })
            {
                var w = Data.Random(rows * cols, 1);
                var packed = PackedMatrix.Pack(w, rows, cols);
                double best = double.MaxValue, bestParallel = double.MaxValue;
                for (int r = 0; r < 10; r++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    packed.Repack(w);
                    best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    t0 = Stopwatch.GetTimestamp();
                    packed.Repack(ctx, w);
                    bestParallel = Math.Min(bestParallel, Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"repack {rows}x{cols}: {best:F2} ms, {ctx.MaxDegreeOfParallelism}t {bestParallel:F2} ms ({rows * (double)cols * 8 / bestParallel / 1e6:F1} GB/s)"));
            }

            return;
        }

        if (args.Length > 2 && args[2] == "attn")
        {
            Attn();
            return;
        }

        foreach (var shape in shapes)
        {
            string kind = shape.Contains(':', StringComparison.Ordinal) ? shape.Split(':')[0] : "mt";
            var dims = shape.Split(':')[^1].Split('x').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            int m = dims[0], k = dims[1], n = dims[2];
            var a = Data.Random(m * k, 1);
            var b = Data.Random(n * k, 2);
            var c = new float[m * n];
            var w = PackedMatrix.Pack(b, n, k);
            Action act = kind switch
            {
                "mul" => () => Gemm.Multiply(ctx, a, b, c, m, n, k),
                "mulT" => () => Gemm.Multiply(ctx, a, b, c, m, n, k, transposeA: true),
                _ => () => Gemm.MultiplyTransposed(ctx, a, m, w, default, c),
            };
            double best = 0;
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed.TotalSeconds < 0.5)
            {
                act();
            }

            double bestCpu = 0;
            var process = Process.GetCurrentProcess();
            for (int r = 0; r < 15; r++)
            {
                int reps = Math.Max(1, (int)(2e7 / (2.0 * m * n * k)));
                process.Refresh();
                var cpu0 = process.TotalProcessorTime;
                long t0 = Stopwatch.GetTimestamp();
                for (int i = 0; i < reps; i++)
                {
                    act();
                }

                double wall = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                process.Refresh();
                double cpu = (process.TotalProcessorTime - cpu0).TotalSeconds;
                best = Math.Max(best, 2.0 * m * n * k * reps / wall / 1e9);
                bestCpu = Math.Max(bestCpu, 2.0 * m * n * k * reps / cpu / 1e9);
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{shape,-22} {ctx.MaxDegreeOfParallelism}t {best,8:F1} GFLOP/s wall, {bestCpu,8:F1} GFLOP per CPU-second"));
        }
    }
}
