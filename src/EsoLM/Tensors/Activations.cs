using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace EsoLM.Tensors;

/// <summary>Element-wise activations and row softmax (vectorised with <see cref="TensorPrimitives"/>).</summary>
internal static class Activations
{
    private const int Chunk = 512;

    /// <summary>
    /// GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). In place allowed. Three passes per chunk
    /// (the polynomial, <see cref="TensorPrimitives.Tanh{T}(ReadOnlySpan{T}, Span{T})"/>, the product), each element
    /// rounded after the same operations in the same order as one pass per operation (so the bits are those of
    /// <c>c·(1 + 0.044715·x²)·x</c>, tanh, <c>(t + 1)·x·0.5</c> computed one step at a time).
    /// </summary>
    /// <param name="x">Input.</param>
    /// <param name="y">Output (same length as <paramref name="x"/>; may be <paramref name="x"/>).</param>
    public static unsafe void GeluTanh(ReadOnlySpan<float> x, Span<float> y)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(y.Length, x.Length, nameof(y));
        Span<float> t = stackalloc float[Chunk];
        fixed (float* px0 = x, py0 = y, pt = t)
        {
            for (int i = 0; i < x.Length; i += Chunk)
            {
                int len = Math.Min(Chunk, x.Length - i);
                GeluInner(px0 + i, pt, len);
                TensorPrimitives.Tanh(new ReadOnlySpan<float>(pt, len), new Span<float>(pt, len));
                GeluOuter(px0 + i, pt, py0 + i, len);
            }
        }
    }

    private const float GeluC = 0.7978845608028654f;

    /// <summary>t = (x²·(0.044715·c) + c)·x, rounded after each operation.</summary>
    private static unsafe void GeluInner(float* x, float* t, int len)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var k = Vector512.Create(0.044715f * GeluC);
            var c = Vector512.Create(GeluC);
            for (; j + 16 <= len; j += 16)
            {
                var v = Vector512.Load(x + j);
                ((((v * v) * k) + c) * v).Store(t + j);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            var k = Vector256.Create(0.044715f * GeluC);
            var c = Vector256.Create(GeluC);
            for (; j + 8 <= len; j += 8)
            {
                var v = Vector256.Load(x + j);
                ((((v * v) * k) + c) * v).Store(t + j);
            }
        }

        for (; j < len; j++)
        {
            float v = x[j];
            t[j] = (((v * v) * (0.044715f * GeluC)) + GeluC) * v;
        }
    }

    /// <summary>y = ((t + 1)·x)·0.5, rounded after each operation (y may be x).</summary>
    private static unsafe void GeluOuter(float* x, float* t, float* y, int len)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; j + 16 <= len; j += 16)
            {
                var v = Vector512.Load(x + j);
                (((Vector512.Load(t + j) + Vector512<float>.One) * v) * 0.5f).Store(y + j);
            }
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; j + 8 <= len; j += 8)
            {
                var v = Vector256.Load(x + j);
                (((Vector256.Load(t + j) + Vector256<float>.One) * v) * 0.5f).Store(y + j);
            }
        }

        for (; j < len; j++)
        {
            y[j] = ((t[j] + 1f) * x[j]) * 0.5f;
        }
    }

    /// <summary>
    /// <see cref="GeluTanh(ReadOnlySpan{float}, Span{float})"/> over blocks of <see cref="ParallelElements"/> on the
    /// context's threads (element-wise, so the bits do not depend on the thread count).
    /// </summary>
    /// <param name="context">Threads.</param>
    /// <param name="x">Input.</param>
    /// <param name="y">Output (same length as <paramref name="x"/>; may be <paramref name="x"/>).</param>
    public static unsafe void GeluTanh(ComputeContext context, ReadOnlySpan<float> x, Span<float> y)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentOutOfRangeException.ThrowIfLessThan(y.Length, x.Length, nameof(y));
        if (context.MaxDegreeOfParallelism == 1 || x.Length <= ParallelElements)
        {
            GeluTanh(x, y);
            return;
        }

        fixed (float* px = x, py = y)
        {
            var body = new GeluTask(px, py, x.Length);
            ParallelTasks.Run(context, (x.Length + ParallelElements - 1) / ParallelElements, ref body);
        }
    }

    /// <summary>Elements per parallel block (a multiple of the serial chunk, so blocks split exactly where the serial loop does).</summary>
    internal const int ParallelElements = 8 * Chunk;

    private readonly unsafe struct GeluTask(float* x, float* y, int n) : ITaskBody
    {
        public void Run(int task)
        {
            int s = task * ParallelElements, len = Math.Min(ParallelElements, n - s);
            GeluTanh(new ReadOnlySpan<float>(x + s, len), new Span<float>(y + s, len));
        }
    }

    /// <summary>SiLU: x·sigmoid(x). In place allowed.</summary>
    /// <param name="x">Input.</param>
    /// <param name="y">Output (same length as <paramref name="x"/>; may be <paramref name="x"/>).</param>
    public static void Silu(ReadOnlySpan<float> x, Span<float> y)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(y.Length, x.Length, nameof(y));
        Span<float> t = stackalloc float[Chunk];
        for (int i = 0; i < x.Length; i += Chunk)
        {
            int len = Math.Min(Chunk, x.Length - i);
            var xs = x.Slice(i, len);
            var ts = t[..len];
            TensorPrimitives.Sigmoid(xs, ts);
            TensorPrimitives.Multiply(ts, xs, y.Slice(i, len));
        }
    }

    /// <summary>Numerically stable softmax of one row, in place.</summary>
    /// <param name="row">The row.</param>
    public static void SoftmaxInPlace(Span<float> row)
    {
        if (row.IsEmpty)
        {
            return;
        }

        float max = TensorPrimitives.Max<float>(row);
        TensorPrimitives.Subtract(row, max, row);
        TensorPrimitives.Exp(row, row);
        double sum = 0;
        for (int i = 0; i < row.Length; i += Chunk)
        {
            sum += TensorPrimitives.Sum<float>(row.Slice(i, Math.Min(Chunk, row.Length - i)));
        }

        TensorPrimitives.Multiply(row, (float)(1.0 / sum), row);
    }

    /// <summary>Numerically stable log-softmax of one row, in place.</summary>
    /// <param name="row">The row.</param>
    public static void LogSoftmaxInPlace(Span<float> row)
    {
        if (row.IsEmpty)
        {
            return;
        }

        float max = TensorPrimitives.Max<float>(row);
        Span<float> t = stackalloc float[Chunk];
        double sum = 0;
        for (int i = 0; i < row.Length; i += Chunk)
        {
            int len = Math.Min(Chunk, row.Length - i);
            var ts = t[..len];
            TensorPrimitives.Subtract(row.Slice(i, len), max, ts);
            TensorPrimitives.Exp(ts, ts);
            sum += TensorPrimitives.Sum<float>(ts);
        }

        float lse = max + (float)Math.Log(sum);
        TensorPrimitives.Subtract(row, lse, row);
    }
}
