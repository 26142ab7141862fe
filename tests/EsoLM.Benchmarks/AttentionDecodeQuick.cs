using System.Diagnostics;
using System.Globalization;
using EsoLM.Tensors;

namespace EsoLM.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project tests/EsoLM.Benchmarks -- attndec [rounds] [keys] [kernel] [cached]</c>: the attention of one batch-16
/// Eso-LM decoding step at the <c>esolm bench sample</c> model (6 layers × 6 heads, head width 64), two queries per
/// sequence and head (previous token sees [0, n), the masked one [0, n + 1)) over n = keys (default 512, the mean at
/// L = 1024) cached slots, every (sequence, layer) in its own cache so the step streams from memory as the sampler does
/// (or, with <c>cached</c>, all of them reading the first cache, which stays in the CPU caches: the compute alone).
/// Times, alternately in the same rounds on one thread: the one-query path (<see cref="Attention.AttendHead"/> for fp32,
/// <see cref="Attention.AttendHeadBf16"/> for bf16) and the window kernels, in ms per step and GB/s of K/V read.
/// </summary>
internal static class AttentionDecodeQuick
{
    public static void Run(string[] args)
    {
        int rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 7;
        int n = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 512;
        int only = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : -1; // one kernel only (for perf stat)
        bool cached = args.Length > 4 && args[4] == "cached"; // every sequence reads the first cache: compute without memory
        const int d = 64, heads = 6, layers = 6, sequences = 16;
        int capacity = n + 1, caches = sequences * layers;
        var rng = new Random(1);
        var k32 = new float[caches][];
        var v32 = new float[caches][];
        var k16 = new ushort[caches][];
        var v16 = new ushort[caches][];
        for (int c = 0; c < caches; c++)
        {
            k32[c] = new float[heads * capacity * d];
            v32[c] = new float[heads * capacity * d];
            for (int i = 0; i < k32[c].Length; i++)
            {
                k32[c][i] = (float)((rng.NextDouble() * 2) - 1);
                v32[c][i] = (float)((rng.NextDouble() * 2) - 1);
            }

            k16[c] = new ushort[k32[c].Length];
            v16[c] = new ushort[v32[c].Length];
            Attention.ToBFloat16Rows(k32[c], k16[c], d); // the cache's row layout
            Attention.ToBFloat16Rows(v32[c], v16[c], d);
        }

        var q = new float[2 * 3 * heads * d];
        for (int i = 0; i < q.Length; i++)
        {
            q[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        var o = new float[2 * heads * d];
        KeyRange[] visible = [KeyRange.Of(0, n), KeyRange.Of(0, n + 1)];
        int hs = capacity * d;
        double bytes32 = 2.0 * caches * heads * (n + 1) * d * sizeof(float);
        void Step(int kind)
        {
            for (int sequenceLayer = 0; sequenceLayer < caches; sequenceLayer++)
            {
                int c = cached ? 0 : sequenceLayer;
                for (int h = 0; h < heads; h++)
                {
                    var qs = q.AsSpan(h * d);
                    var os = o.AsSpan(h * d);
                    switch (kind)
                    {
                        case 0:
                            Attention.AttendHead(SimdLevel.Auto, qs, 3 * heads * d, 2, k32[c].AsSpan(h * hs, hs), v32[c].AsSpan(h * hs, hs), d, visible, os,
                                heads * d, 0.125f);
                            break;
                        case 1:
                            Attention.AttendWindow(qs, 3 * heads * d, 2, k32[c].AsSpan(h * hs, hs), v32[c].AsSpan(h * hs, hs), visible, os, heads * d, 0.125f);
                            break;
                        case 2:
                            Attention.AttendHeadBf16(qs, 3 * heads * d, 2, k16[c].AsSpan(h * hs, hs), v16[c].AsSpan(h * hs, hs), visible, os, heads * d, 0.125f);
                            break;
                        default:
                            Attention.AttendWindowBf16(qs, 3 * heads * d, 2, k16[c].AsSpan(h * hs, hs), v16[c].AsSpan(h * hs, hs), visible, os, heads * d,
                                0.125f);
                            break;
                    }
                }
            }
        }

        string[] names = ["fp32 one-query", "fp32 window", "bf16 one-query (fused)", "bf16 window"];
        var times = names.Select(_ => new List<double>()).ToArray();
        var cpu = new TimeSpan[names.Length];
        for (int k = 0; k < names.Length; k++)
        {
            Step(k); // warm-up
        }

        for (int r = 0; r < rounds; r++)
        {
            for (int k = 0; k < names.Length; k++)
            {
                if (only >= 0 && k != only)
                {
                    continue;
                }

                var c0 = Process.GetCurrentProcess().TotalProcessorTime;
                var sw = Stopwatch.StartNew();
                Step(k);
                times[k].Add(sw.Elapsed.TotalMilliseconds);
                cpu[k] += Process.GetCurrentProcess().TotalProcessorTime - c0;
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"decoding attention, batch 16 × 6 layers × 6 heads, 2 queries, {n} keys, 1 thread, {rounds} rounds (K/V fp32 {bytes32 / 1e6:F0} MB per step{(cached ? ", one cache reused" : "")})"));
        for (int k = 0; k < names.Length; k++)
        {
            if (times[k].Count == 0)
            {
                continue;
            }

            var t = times[k].Order().ToArray();
            double gb = (k < 2 ? bytes32 : bytes32 / 2) / 1e9;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{names[k],-24} best {t[0],7:F2} ms  median {t[t.Length / 2],7:F2} ms  cpu {cpu[k].TotalMilliseconds / rounds,7:F2} ms/step  {gb / (t[0] / 1e3),6:F1} GB/s (best)"));
        }
    }
}
