using System.Diagnostics;
using System.Globalization;
using EsoLM.Tensors;

namespace EsoLM.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project tests/EsoLM.Benchmarks -- packa [reps]</c>: packing the A operand of the batch-16
/// sampler's products (row-major activations into 8-row, k-major panels; 32 × 384 and 32 × 1536 for the blocks, 16 × 384 for
/// the head). The caller packs A alone before the product's tasks start, so this time is serial; µs per pack, best of 5.
/// </summary>
internal static unsafe class PackAQuick
{
    public static void Run(string[] args)
    {
        int reps = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20000;
        foreach (var (m, k) in new[] { (32, 384), (32, 1536), (16, 384) })
        {
            var a = Data.Random(m * k, 1);
            var packed = new float[(m * k) + 64];
            fixed (float* pa = a, pd = packed)
            {
                double best = double.MaxValue;
                for (int round = 0; round < 6; round++)
                {
                    var sw = Stopwatch.StartNew();
                    for (int i = 0; i < reps; i++)
                    {
                        for (int p0 = 0; p0 < k; p0 += GemmKernels.KC)
                        {
                            GemmKernels.PackA(pa, k, 1, 0, m, p0, Math.Min(GemmKernels.KC, k - p0), 8, pd + (m * p0));
                        }
                    }

                    // Round 0 warms up (tiered compilation).
                    best = round == 0 ? best : Math.Min(best, sw.Elapsed.TotalMicroseconds / reps);
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"PackA {m}x{k} (8-row panels): {best:F2} us"));
            }
        }
    }
}
