using System.Diagnostics;
using System.Globalization;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;

namespace EsoLM.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project tests/EsoLM.Benchmarks -- attnbwd [rounds] [L]</c>: one layer of training attention at
/// the <c>esolm bench train</c> batch (16 diffusion rows of L (default 128) and 16 sequential rows of 2L, variant B masks,
/// head width 64) for 4 heads (hidden 256) and 6 heads (hidden 384): the forward, the plain small-GEMM backward and the
/// blocked backward, on one thread, timed alternately in the same rounds (best and median wall milliseconds per layer, and the process CPU time, which a loaded machine disturbs less).
/// </summary>
internal static class AttentionBackwardQuick
{
    public static void Run(string[] args)
    {
        int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 15;
        int length = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 128;
        foreach (int heads in new[] { 4, 6 })
        {
            Shape(heads, rounds, length);
        }
    }

    private static void Shape(int heads, int rounds, int length)
    {
        const int d = 64, batch = 32;
        int hidden = heads * d;
        var rng = new Random(1);
        var sequences = new List<(int Start, int Count)>();
        var visible = new List<KeyRange>();
        int rows = 0;
        for (int b = 0; b < batch; b++)
        {
            bool sequential = b >= batch / 2;
            int n = sequential ? 2 * length : length;
            var ranges = new KeyRange[n];
            int clean = rng.Next(length + 1);
            if (sequential)
            {
                MaskRules.Sequential(EsoLmVariant.B, length, clean, ranges);
            }
            else
            {
                MaskRules.Diffusion(EsoLmVariant.B, length, clean, ranges);
            }

            visible.AddRange(ranges);
            sequences.Add((rows, n));
            rows += n;
        }

        var vis = visible.ToArray();
        var qkv = Data.Random(rows * 3 * hidden, 1);
        var dOut = Data.Random(rows * hidden, 2);
        var att = new float[rows * hidden];
        var dQkv = new float[rows * 3 * hidden];
        var ctx1 = new ComputeContext(1);
        float scale = 1f / MathF.Sqrt(d);

        void Forward()
        {
            foreach (var (start, count) in sequences)
            {
                for (int h = 0; h < heads; h++)
                {
                    TrainingAttention.Forward(ctx1.Simd, qkv, start, count, h, hidden, d, vis.AsSpan(start, count), scale, att);
                }
            }
        }

        void Backward(bool blocked)
        {
            foreach (var (start, count) in sequences)
            {
                for (int h = 0; h < heads; h++)
                {
                    if (blocked)
                    {
                        TrainingAttention.BackwardBlocked(qkv, att, dOut, start, count, h, hidden, d, vis.AsSpan(start, count), scale, dQkv);
                    }
                    else
                    {
                        TrainingAttention.BackwardPlain(ctx1, qkv, att, dOut, start, count, h, hidden, d, vis.AsSpan(start, count), scale, dQkv);
                    }
                }
            }
        }

        Action[] kernels = [Forward, () => Backward(false), () => Backward(true)];
        string[] names = ["forward (inference kernel)", "backward plain (small GEMMs)", "backward blocked"];
        var times = kernels.Select(_ => new List<double>()).ToArray();
        var cpu = kernels.Select(_ => new List<double>()).ToArray();
        var process = System.Diagnostics.Process.GetCurrentProcess();
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 2)
        {
            foreach (var k in kernels)
            {
                k();
            }
        }

        for (int r = 0; r < rounds; r++)
        {
            for (int i = 0; i < kernels.Length; i++)
            {
                process.Refresh();
                var c0 = process.TotalProcessorTime;
                long t0 = Stopwatch.GetTimestamp();
                kernels[i]();
                times[i].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                process.Refresh();
                cpu[i].Add((process.TotalProcessorTime - c0).TotalMilliseconds);
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"hidden {hidden}, {heads} heads × 64, batch {batch} (16 × L={length} diffusion-B, 16 × 2L={2 * length} sequential-B), {rows} rows, 1 thread, {rounds} alternating rounds:"));
        for (int i = 0; i < kernels.Length; i++)
        {
            var sorted = times[i].Order().ToArray();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {names[i],-30} wall best {sorted[0],8:F2} ms, median {sorted[sorted.Length / 2],8:F2} ms; process CPU median {cpu[i].Order().ElementAt(rounds / 2),8:F2} ms per layer"));
        }

        double ratioBest = times[1].Min() / times[2].Min();
        double ratioMedian = times[1].Order().ElementAt(rounds / 2) / times[2].Order().ElementAt(rounds / 2);
        double ratioCpu = cpu[1].Order().ElementAt(rounds / 2) / cpu[2].Order().ElementAt(rounds / 2);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  plain / blocked: {ratioBest:F2}× (best wall), {ratioMedian:F2}× (median wall), {ratioCpu:F2}× (median CPU)"));
    }
}
