using System.Diagnostics;
using System.Globalization;
using EsoLM.Tensors;

namespace EsoLM.Benchmarks;

/// <summary>
/// <c>… -- samplerorder [passes] [threads] [flushMB] [x|nta] [float32|bfloat16|int8]</c>: the batch-16 sampler's fp32 products in the sampler's order
/// (6 layers of distinct weights, 32 rows: qkv, out, mlp1, mlp2; then the head at 16 rows), optionally streaming a
/// flushMB buffer per layer (the KV reads of attention), against the same products repeated on hot weights.
/// Prints milliseconds per pass for the block and head products.
/// </summary>
internal static class SamplerOrderQuick
{
    public static void Run(string[] args)
    {
        int passes = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200;
        int threads = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2;
        int flushMb = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 0;
        bool nta = args.Length > 4 && args[4] == "nta";
        var format = args.Length > 5 ? Enum.Parse<WeightFormat>(args[5], ignoreCase: true) : WeightFormat.Float32;
        const int d = 384, h4 = 1536, v = 50258, rows = 32, outRows = 16, layers = 6;
        var ctx = new ComputeContext(threads);
        var w = new PackedMatrix[layers, 4];
        for (int l = 0; l < layers; l++)
        {
            w[l, 0] = PackedMatrix.Pack(Data.Random(3 * d * d, 10 + l), 3 * d, d, format);
            w[l, 1] = PackedMatrix.Pack(Data.Random(d * d, 20 + l), d, d, format);
            w[l, 2] = PackedMatrix.Pack(Data.Random(h4 * d, 30 + l), h4, d, format);
            w[l, 3] = PackedMatrix.Pack(Data.Random(d * h4, 40 + l), d, h4, format);
        }

        var head = PackedMatrix.Pack(Data.Random(v * d, 50), v, d, format);
        var a = Data.Random(rows * h4, 1);
        var c = new float[rows * v];
        var flush = new float[Math.Max(16, flushMb * 262144)];
        float sink = 0;
        foreach (bool hot in new[] { false, true, false, true, false, true, false, true })
        {
            double block = 0, headSeconds = 0;
            for (int pass = 0; pass < passes; pass++)
            {
                for (int l = 0; l < layers; l++)
                {
                    int li = hot ? 0 : l;
                    if (flushMb > 0)
                    {
                        sink += nta ? SumNta(flush) : Sum(flush);
                    }

                    long t0 = Stopwatch.GetTimestamp();
                    Gemm.MultiplyTransposed(ctx, a.AsSpan(0, rows * d), rows, w[li, 0], default, c);
                    Gemm.MultiplyTransposed(ctx, a.AsSpan(0, rows * d), rows, w[li, 1], default, c);
                    Gemm.MultiplyTransposed(ctx, a.AsSpan(0, rows * d), rows, w[li, 2], default, c);
                    Gemm.MultiplyTransposed(ctx, a.AsSpan(0, rows * h4), rows, w[li, 3], default, c);
                    block += Stopwatch.GetElapsedTime(t0).TotalSeconds;
                }

                long t1 = Stopwatch.GetTimestamp();
                Gemm.MultiplyTransposed(ctx, a.AsSpan(0, outRows * d), outRows, head, default, c);
                headSeconds += Stopwatch.GetElapsedTime(t1).TotalSeconds;
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{(hot ? "hot (layer 0 repeated)" : "sampler order (6 layers)"),-26} flush {flushMb} MB/layer: block {block / passes * 1e3,6:F3} ms/pass, head {headSeconds / passes * 1e3,6:F3} ms/pass"));
        }

        Console.WriteLine(sink == 12345f ? "." : string.Empty);
    }

    private static unsafe float SumNta(float[] x)
    {
        var acc = System.Runtime.Intrinsics.Vector512<float>.Zero;
        fixed (float* p = x)
        {
            for (int i = 0; i + 16 <= x.Length; i += 16)
            {
                System.Runtime.Intrinsics.X86.Sse.PrefetchNonTemporal(p + i + 256);
                acc += System.Runtime.Intrinsics.Vector512.Load(p + i);
            }
        }

        return System.Runtime.Intrinsics.Vector512.Sum(acc);
    }

    private static float Sum(float[] x)
    {
        var acc = System.Numerics.Vector<float>.Zero;
        var span = System.Runtime.InteropServices.MemoryMarshal.Cast<float, System.Numerics.Vector<float>>(x.AsSpan());
        foreach (var e in span)
        {
            acc += e;
        }

        return System.Numerics.Vector.Sum(acc);
    }
}
