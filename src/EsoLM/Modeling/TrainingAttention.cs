using System.Numerics.Tensors;
using EsoLM.Tensors;

namespace EsoLM.Modeling;

/// <summary>
/// Attention for training, one (sequence, head) per call. The forward is the inference kernel over the sequence's own
/// keys (no second forward kernel). The backward recomputes S = Q·Kᵀ·scale and P = masked softmax(S) (zero outside each
/// row's key ranges) and forms dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dO ⊙ O))·scale, dQ = dS·K, dK = dSᵀ·Q, dV = Pᵀ·dO:
/// with the blocked kernel over the visible key spans (TrainingAttention.Blocked.cs) where <see cref="UseBlocked"/>
/// allows, else with the plain reference, dense small GEMMs on gathered q/k/v (<see cref="BackwardPlain"/>). Callers run
/// tasks in parallel with a single-threaded <see cref="ComputeContext"/>; scratch is per thread.
/// </summary>
internal static partial class TrainingAttention
{
    [ThreadStatic]
    private static float[]? _buffer;

    /// <summary>
    /// Forward of one (sequence, head) with the network's inference attention kernel (<see cref="Attention.AttendHead"/>):
    /// the sequence's keys and values are gathered into contiguous [n, headDim] buffers, as a KV cache holds them.
    /// </summary>
    public static void Forward(SimdLevel simd, float[] qkv, int rowStart, int n, int head, int hidden, int headDim,
        ReadOnlySpan<KeyRange> visible, float scale, float[] output)
    {
        var buf = Buffer(2 * n * headDim);
        var k = buf.AsSpan(0, n * headDim);
        var v = buf.AsSpan(n * headDim, n * headDim);
        Gather(qkv, rowStart, n, 3 * hidden, hidden + (head * headDim), headDim, k);
        Gather(qkv, rowStart, n, 3 * hidden, (2 * hidden) + (head * headDim), headDim, v);
        Attention.AttendHead(simd, qkv.AsSpan((rowStart * 3 * hidden) + (head * headDim)), 3 * hidden, n, k, v, headDim, visible,
            output.AsSpan((rowStart * hidden) + (head * headDim)), hidden, scale);
    }

    /// <summary>
    /// Adds dQ, dK and dV of one (sequence, head) into <paramref name="dQkv"/> (q, k, v columns of the head), given the
    /// packed qkv rows, the attention output and its gradient: the blocked kernel where <see cref="UseBlocked"/> allows,
    /// otherwise the plain small-GEMM path.
    /// </summary>
    public static void Backward(ComputeContext ctx1, float[] qkv, float[] output, float[] dOut, int rowStart, int n, int head,
        int hidden, int headDim, ReadOnlySpan<KeyRange> visible, float scale, float[] dQkv)
    {
        if (UseBlocked(ctx1.Simd, n, headDim))
        {
            BackwardBlocked(qkv, output, dOut, rowStart, n, head, hidden, headDim, visible, scale, dQkv);
        }
        else
        {
            BackwardPlain(ctx1, qkv, output, dOut, rowStart, n, head, hidden, headDim, visible, scale, dQkv);
        }
    }

    /// <summary>
    /// The plain reference: dense n×n small GEMMs on gathered q/k/v (P recomputed, zero outside each row's key ranges).
    /// </summary>
    public static void BackwardPlain(ComputeContext ctx1, float[] qkv, float[] output, float[] dOut, int rowStart, int n, int head,
        int hidden, int headDim, ReadOnlySpan<KeyRange> visible, float scale, float[] dQkv)
    {
        int nh = n * headDim;
        var buf = Buffer((8 * nh) + (2 * n * n));
        var q = buf.AsSpan(0, nh);
        var k = buf.AsSpan(nh, nh);
        var v = buf.AsSpan(2 * nh, nh);
        var o = buf.AsSpan(3 * nh, nh);
        var dO = buf.AsSpan(4 * nh, nh);
        var dq = buf.AsSpan(5 * nh, nh);
        var dk = buf.AsSpan(6 * nh, nh);
        var dv = buf.AsSpan(7 * nh, nh);
        var p = buf.AsSpan(8 * nh, n * n);
        var dp = buf.AsSpan((8 * nh) + (n * n), n * n);
        int qOff = head * headDim;
        Gather(qkv, rowStart, n, 3 * hidden, qOff, headDim, q);
        Gather(qkv, rowStart, n, 3 * hidden, hidden + qOff, headDim, k);
        Gather(qkv, rowStart, n, 3 * hidden, (2 * hidden) + qOff, headDim, v);
        Gather(output, rowStart, n, hidden, qOff, headDim, o);
        Gather(dOut, rowStart, n, hidden, qOff, headDim, dO);

        // Recompute P = masked softmax(Q·Kᵀ·scale) (the forward kernel keeps no statistics).
        Gemm.Multiply(ctx1, q, k, p, n, n, headDim, transposeB: true);
        for (int i = 0; i < n; i++)
        {
            SoftmaxRow(p.Slice(i * n, n), visible[i], scale);
        }

        Gemm.Multiply(ctx1, dO, v, dp, n, n, headDim, transposeB: true);
        for (int i = 0; i < n; i++)
        {
            float delta = TensorPrimitives.Dot(dO.Slice(i * headDim, headDim), o.Slice(i * headDim, headDim));
            var pr = p.Slice(i * n, n);
            var dr = dp.Slice(i * n, n);
            TensorPrimitives.Subtract(dr, delta, dr);
            TensorPrimitives.Multiply(dr, pr, dr);
            TensorPrimitives.Multiply(dr, scale, dr);
        }

        Gemm.Multiply(ctx1, dp, k, dq, n, headDim, n);
        Gemm.Multiply(ctx1, dp, q, dk, n, headDim, n, transposeA: true);
        Gemm.Multiply(ctx1, p, dO, dv, n, headDim, n, transposeA: true);
        Scatter(dq, rowStart, n, 3 * hidden, qOff, headDim, dQkv, add: true);
        Scatter(dk, rowStart, n, 3 * hidden, hidden + qOff, headDim, dQkv, add: true);
        Scatter(dv, rowStart, n, 3 * hidden, (2 * hidden) + qOff, headDim, dQkv, add: true);
    }

    /// <summary>In place: scores → probabilities over the visible keys (0 elsewhere); returns the log-sum-exp of the scaled scores.</summary>
    private static float SoftmaxRow(Span<float> row, KeyRange vr, float scale)
    {
        if (vr.Count == 0)
        {
            row.Clear();
            return float.NegativeInfinity;
        }

        float max = float.NegativeInfinity;
        if (vr.End0 > vr.Start0)
        {
            max = TensorPrimitives.Max(row[vr.Start0..vr.End0]);
        }

        if (vr.End1 > vr.Start1)
        {
            max = MathF.Max(max, TensorPrimitives.Max(row[vr.Start1..vr.End1]));
        }

        float lseScaled = max * scale;
        double sum = ExpSegment(row, vr.Start0, vr.End0, scale, lseScaled) + ExpSegment(row, vr.Start1, vr.End1, scale, lseScaled);
        float inv = (float)(1.0 / sum);
        ZeroOutside(row, vr);
        TensorPrimitives.Multiply(row, inv, row);
        return lseScaled + (float)Math.Log(sum);
    }

    /// <summary>row[s..e] ← exp(row·scale − shift); returns the segment's sum (0 when empty).</summary>
    private static double ExpSegment(Span<float> row, int s, int e, float scale, float shift)
    {
        if (e <= s)
        {
            return 0;
        }

        var seg = row[s..e];
        TensorPrimitives.Multiply(seg, scale, seg);
        TensorPrimitives.Subtract(seg, shift, seg);
        TensorPrimitives.Exp(seg, seg);
        return TensorPrimitives.Sum(seg);
    }

    private static void ZeroOutside(Span<float> row, KeyRange vr)
    {
        // Visible keys are [Start0, End0) ∪ [Start1, End1) with the ranges ordered and disjoint (empty ones ignored).
        int a0 = vr.Start0, a1 = vr.End0, b0 = vr.Start1, b1 = vr.End1;
        if (a1 <= a0)
        {
            (a0, a1) = (b0, b0);
        }

        if (b1 <= b0)
        {
            (b0, b1) = (a1, a1);
        }

        if (b0 < a0)
        {
            (a0, a1, b0, b1) = (b0, b1, a0, a1);
        }

        row[..a0].Clear();
        row[a1..b0].Clear();
        row[b1..].Clear();
    }

    private static void Gather(float[] src, int rowStart, int n, int stride, int offset, int width, Span<float> dst)
    {
        for (int i = 0; i < n; i++)
        {
            src.AsSpan(((rowStart + i) * stride) + offset, width).CopyTo(dst.Slice(i * width, width));
        }
    }

    private static void Scatter(ReadOnlySpan<float> src, int rowStart, int n, int stride, int offset, int width, float[] dst, bool add)
    {
        for (int i = 0; i < n; i++)
        {
            var d = dst.AsSpan(((rowStart + i) * stride) + offset, width);
            if (add)
            {
                TensorPrimitives.Add(d, src.Slice(i * width, width), d);
            }
            else
            {
                src.Slice(i * width, width).CopyTo(d);
            }
        }
    }

    private static float[] Buffer(int size)
    {
        var b = _buffer;
        if (b is null || b.Length < size)
        {
            b = new float[Math.Max(size, (b?.Length ?? 0) * 5 / 4)];
            _buffer = b;
        }

        return b;
    }
}
