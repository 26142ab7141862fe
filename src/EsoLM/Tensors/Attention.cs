using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EsoLM.Tensors;

/// <summary>Scaled dot-product attention of one head over a key/value buffer, with per-query visible key ranges.</summary>
internal static unsafe partial class Attention
{
    /// <summary>
    /// For each of <paramref name="queryCount"/> queries (row r at r·<paramref name="queryStride"/> in
    /// <paramref name="queries"/>, width <paramref name="headDim"/>): out = softmax(q·kᵀ·<paramref name="scale"/>)·v over
    /// the key slots <paramref name="visible"/>[r]. Keys and values are [slots, headDim] row-major buffers of one head.
    /// A query with no visible key gets a zero output. Single-threaded; callers parallelise over heads and sequences.
    /// Allocation-free after warm-up (scores live in a per-thread scratch buffer).
    /// </summary>
    /// <param name="simd">SIMD width (<see cref="SimdLevel.Auto"/> picks the best).</param>
    /// <param name="queries">Query rows.</param>
    /// <param name="queryStride">Distance between query rows.</param>
    /// <param name="queryCount">Number of queries.</param>
    /// <param name="keys">Keys [slots, headDim].</param>
    /// <param name="values">Values [slots, headDim].</param>
    /// <param name="headDim">Head width.</param>
    /// <param name="visible">Visible key ranges, one per query.</param>
    /// <param name="output">Output rows.</param>
    /// <param name="outputStride">Distance between output rows.</param>
    /// <param name="scale">Score scale (usually 1/√headDim).</param>
    public static void AttendHead(SimdLevel simd, ReadOnlySpan<float> queries, int queryStride, int queryCount,
        ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int headDim, ReadOnlySpan<KeyRange> visible,
        Span<float> output, int outputStride, float scale)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(headDim, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(queryCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(visible.Length, queryCount, nameof(visible));
        ArgumentOutOfRangeException.ThrowIfNotEqual(values.Length, keys.Length, nameof(values));
        if (queryCount == 0)
        {
            return;
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(queries.Length, ((queryCount - 1) * queryStride) + headDim, nameof(queries));
        ArgumentOutOfRangeException.ThrowIfLessThan(output.Length, ((queryCount - 1) * outputStride) + headDim, nameof(output));
        if (simd == SimdLevel.Auto)
        {
            simd = ComputeContext.BestAvailable;
        }

        int slots = keys.Length / headDim;
        for (int r = 0; r < queryCount; r++)
        {
            var vr = visible[r];
            output.Slice(r * outputStride, headDim).Clear();
            if (vr.Count != 0 && (vr.Start0 < 0 || vr.Start1 < 0 || vr.End0 < vr.Start0 || vr.End1 < vr.Start1 || vr.MaxEnd > slots))
            {
                throw new ArgumentOutOfRangeException(nameof(visible), vr, $"Key ranges must lie in [0, {slots}).");
            }

            if (vr.End0 > vr.Start0 && vr.End1 > vr.Start1 && vr.Start0 < vr.End1 && vr.Start1 < vr.End0)
            {
                throw new ArgumentOutOfRangeException(nameof(visible), vr, "The two key ranges of a query must not overlap.");
            }
        }

        fixed (float* pq = queries)
        fixed (float* pk = keys)
        fixed (float* pv = values)
        fixed (float* po = output)
        {
            if (simd != SimdLevel.Scalar && queryCount >= BlockedMinQueries)
            {
                Blocked(simd, pq, queryStride, queryCount, pk, pv, headDim, visible, po, outputStride, scale);
                return;
            }

            float* scores = Scratch.Get(Scratch.Scores, Math.Max(slots, 1));
            for (int r = 0; r < queryCount; r++)
            {
                var vr = visible[r];
                if (vr.Count != 0)
                {
                    OneQuery(simd, pq + ((nint)r * queryStride), pk, pv, headDim, vr, po + ((nint)r * outputStride), scale, scores);
                }
            }
        }
    }

    /// <summary>
    /// <see cref="AttendHead"/> over a bfloat16 key/value buffer in cache row layout (<see cref="LowPrecision.Bf16RowSlot"/>;
    /// head width 64, Vector512, few queries — decoding): keys and values are widened in registers as they are read, so
    /// each step reads half the bytes of an fp32 cache. Scores, softmax and the weighted sum are computed in fp32 exactly
    /// as <see cref="OneQuery"/> does on the widened entries.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AttendHeadBf16(ReadOnlySpan<float> queries, int queryStride, int queryCount,
        ReadOnlySpan<ushort> keys, ReadOnlySpan<ushort> values, ReadOnlySpan<KeyRange> visible,
        Span<float> output, int outputStride, float scale)
    {
        const int d = 64;
        if (!Vector512.IsHardwareAccelerated)
        {
            throw new PlatformNotSupportedException("The fused bf16 attention kernel needs Vector512.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(visible.Length, queryCount, nameof(visible));
        ArgumentOutOfRangeException.ThrowIfNotEqual(values.Length, keys.Length, nameof(values));
        if (queryCount <= 0)
        {
            return;
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(queries.Length, ((queryCount - 1) * queryStride) + d, nameof(queries));
        ArgumentOutOfRangeException.ThrowIfLessThan(output.Length, ((queryCount - 1) * outputStride) + d, nameof(output));
        int slots = keys.Length / d;
        for (int r = 0; r < queryCount; r++)
        {
            var vr = visible[r];
            if (vr.Count != 0 && (vr.Start0 < 0 || vr.Start1 < 0 || vr.End0 < vr.Start0 || vr.End1 < vr.Start1 || vr.MaxEnd > slots))
            {
                throw new ArgumentOutOfRangeException(nameof(visible), vr, $"Key ranges must lie in [0, {slots}).");
            }
        }

        float* scores = Scratch.Get(Scratch.Scores, Math.Max(slots, 1));
        fixed (float* pq = queries)
        fixed (ushort* pk = keys)
        fixed (ushort* pv = values)
        fixed (float* po = output)
        {
            for (int r = 0; r < queryCount; r++)
            {
                float* o = po + ((nint)r * outputStride);
                new Span<float>(o, d).Clear();
                var vr = visible[r];
                if (vr.Count != 0)
                {
                    OneQueryBf16(pq + ((nint)r * queryStride), pk, pv, vr, o, scale, scores);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OneQueryBf16(float* q, ushort* keys, ushort* values, KeyRange vr, float* o, float scale, float* scores)
    {
        float max = float.NegativeInfinity;
        var q0 = Vector512.Load(q) * scale;
        var q1 = Vector512.Load(q + 16) * scale;
        var q2 = Vector512.Load(q + 32) * scale;
        var q3 = Vector512.Load(q + 48) * scale;
        for (int pass = 0; pass < 2; pass++)
        {
            int s = pass == 0 ? vr.Start0 : vr.Start1, e = pass == 0 ? vr.End0 : vr.End1;
            for (int kk = s; kk < e; kk++)
            {
                Bf16Rows.Load(keys + ((nint)kk * 64), out var k0, out var k1, out var k2, out var k3);
                var acc = Vector512.FusedMultiplyAdd(q1, k1, q0 * k0);
                acc = Vector512.FusedMultiplyAdd(q2, k2, acc);
                acc = Vector512.FusedMultiplyAdd(q3, k3, acc);
                float v = HorizontalSum(acc);
                scores[kk] = v;
                max = MathF.Max(max, v);
            }
        }

        double sum = 0;
        for (int pass = 0; pass < 2; pass++)
        {
            int s = pass == 0 ? vr.Start0 : vr.Start1, e = pass == 0 ? vr.End0 : vr.End1;
            if (e > s)
            {
                var span = new Span<float>(scores + s, e - s);
                TensorPrimitives.Subtract(span, max, span);
                TensorPrimitives.Exp(span, span);
                sum += TensorPrimitives.Sum<float>(span);
            }
        }

        Vector512<float> o0 = default, o1 = default, o2 = default, o3 = default;
        Vector512<float> p0 = default, p1 = default, p2 = default, p3 = default;
        for (int pass = 0; pass < 2; pass++)
        {
            int s = pass == 0 ? vr.Start0 : vr.Start1, e = pass == 0 ? vr.End0 : vr.End1;
            int kk = s;
            for (; kk + 2 <= e; kk += 2)
            {
                var w0 = Vector512.Create(scores[kk]);
                var w1 = Vector512.Create(scores[kk + 1]);
                Bf16Rows.Load(values + ((nint)kk * 64), out var a0, out var a1, out var a2, out var a3);
                Bf16Rows.Load(values + ((nint)(kk + 1) * 64), out var b0, out var b1, out var b2, out var b3);
                o0 = Vector512.FusedMultiplyAdd(w0, a0, o0);
                o1 = Vector512.FusedMultiplyAdd(w0, a1, o1);
                o2 = Vector512.FusedMultiplyAdd(w0, a2, o2);
                o3 = Vector512.FusedMultiplyAdd(w0, a3, o3);
                p0 = Vector512.FusedMultiplyAdd(w1, b0, p0);
                p1 = Vector512.FusedMultiplyAdd(w1, b1, p1);
                p2 = Vector512.FusedMultiplyAdd(w1, b2, p2);
                p3 = Vector512.FusedMultiplyAdd(w1, b3, p3);
            }

            if (kk < e)
            {
                var w0 = Vector512.Create(scores[kk]);
                Bf16Rows.Load(values + ((nint)kk * 64), out var a0, out var a1, out var a2, out var a3);
                o0 = Vector512.FusedMultiplyAdd(w0, a0, o0);
                o1 = Vector512.FusedMultiplyAdd(w0, a1, o1);
                o2 = Vector512.FusedMultiplyAdd(w0, a2, o2);
                o3 = Vector512.FusedMultiplyAdd(w0, a3, o3);
            }
        }

        var inv = Vector512.Create((float)(1.0 / sum));
        ((o0 + p0) * inv).Store(o);
        ((o1 + p1) * inv).Store(o + 16);
        ((o2 + p2) * inv).Store(o + 32);
        ((o3 + p3) * inv).Store(o + 48);
    }

    /// <summary>
    /// Widens bfloat16 KV-cache rows (in the layout of <see cref="LowPrecision.Bf16RowSlot"/>) exactly into fp32 rows in
    /// order, in the calling thread's scratch slot <paramref name="slot"/>, and returns them; valid until the slot is
    /// requested again on this thread.
    /// </summary>
    /// <param name="source">bfloat16 rows of <paramref name="rowLength"/> entries in cache layout.</param>
    /// <param name="rowLength">Entries per row (the head width).</param>
    /// <param name="slot">Scratch slot of the result.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Span<float> WidenBf16(ReadOnlySpan<ushort> source, int rowLength, int slot)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rowLength, 1);
        int n = source.Length;
        if (n % rowLength != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(source), n, $"The source must hold whole rows of {rowLength}.");
        }

        float* dst = Scratch.Get(slot, n);
        int whole = rowLength - (rowLength % 32);
        fixed (ushort* src = source)
        {
            for (int row = 0; row < n; row += rowLength)
            {
                int c = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    for (; c < whole; c += 32)
                    {
                        var (low, high) = LowPrecision.WidenBf16Group(src + row + c);
                        low.Store(dst + row + c);
                        high.Store(dst + row + c + 16);
                    }
                }

                for (; c < rowLength; c++)
                {
                    dst[row + c] = LowPrecision.FromBFloat16(src[row + LowPrecision.Bf16RowSlot(c, rowLength)]);
                }
            }
        }

        return new Span<float>(dst, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OneQuery(SimdLevel simd, float* q, float* keys, float* values, int d, KeyRange vr, float* o,
        float scale, float* scores)
    {
        float max = float.NegativeInfinity;
        for (int pass = 0; pass < 2; pass++)
        {
            int s = pass == 0 ? vr.Start0 : vr.Start1, e = pass == 0 ? vr.End0 : vr.End1;
            if (simd == SimdLevel.Vector512 && d == 64)
            {
                var q0 = Vector512.Load(q) * scale;
                var q1 = Vector512.Load(q + 16) * scale;
                var q2 = Vector512.Load(q + 32) * scale;
                var q3 = Vector512.Load(q + 48) * scale;
                for (int kk = s; kk < e; kk++)
                {
                    float* kp = keys + ((nint)kk * 64);
                    var acc = Vector512.FusedMultiplyAdd(q1, Vector512.Load(kp + 16), q0 * Vector512.Load(kp));
                    acc = Vector512.FusedMultiplyAdd(q2, Vector512.Load(kp + 32), acc);
                    acc = Vector512.FusedMultiplyAdd(q3, Vector512.Load(kp + 48), acc);
                    float v = HorizontalSum(acc);
                    scores[kk] = v;
                    max = MathF.Max(max, v);
                }
            }
            else
            {
                for (int kk = s; kk < e; kk++)
                {
                    float v = Dot(simd, q, keys + ((nint)kk * d), d) * scale;
                    scores[kk] = v;
                    max = MathF.Max(max, v);
                }
            }
        }

        double sum = 0;
        for (int pass = 0; pass < 2; pass++)
        {
            int s = pass == 0 ? vr.Start0 : vr.Start1, e = pass == 0 ? vr.End0 : vr.End1;
            if (e <= s)
            {
                continue;
            }

            var span = new Span<float>(scores + s, e - s);
            if (simd == SimdLevel.Scalar)
            {
                for (int i = 0; i < span.Length; i++)
                {
                    span[i] = MathF.Exp(span[i] - max);
                    sum += span[i];
                }
            }
            else
            {
                TensorPrimitives.Subtract(span, max, span);
                TensorPrimitives.Exp(span, span);
                sum += TensorPrimitives.Sum<float>(span);
            }
        }

        float inv = (float)(1.0 / sum);
        for (int pass = 0; pass < 2; pass++)
        {
            int s = pass == 0 ? vr.Start0 : vr.Start1, e = pass == 0 ? vr.End0 : vr.End1;
            if (simd == SimdLevel.Vector512 && d == 64)
            {
                Accumulate64(values, s, e, scores, o);
            }
            else
            {
                for (int kk = s; kk < e; kk++)
                {
                    Axpy(simd, scores[kk], values + ((nint)kk * d), o, d);
                }
            }
        }

        Scale(simd, o, d, inv);
    }

    private static void Accumulate64(float* values, int s, int e, float* scores, float* o)
    {
        Vector512<float> o0 = Vector512.Load(o), o1 = Vector512.Load(o + 16), o2 = Vector512.Load(o + 32), o3 = Vector512.Load(o + 48);
        Vector512<float> p0 = default, p1 = default, p2 = default, p3 = default;
        int kk = s;
        for (; kk + 2 <= e; kk += 2)
        {
            float* vp = values + ((nint)kk * 64);
            var w0 = Vector512.Create(scores[kk]);
            var w1 = Vector512.Create(scores[kk + 1]);
            o0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(vp), o0);
            o1 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(vp + 16), o1);
            o2 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(vp + 32), o2);
            o3 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(vp + 48), o3);
            p0 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(vp + 64), p0);
            p1 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(vp + 80), p1);
            p2 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(vp + 96), p2);
            p3 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(vp + 112), p3);
        }

        if (kk < e)
        {
            float* vp = values + ((nint)kk * 64);
            var w0 = Vector512.Create(scores[kk]);
            o0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(vp), o0);
            o1 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(vp + 16), o1);
            o2 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(vp + 32), o2);
            o3 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(vp + 48), o3);
        }

        (o0 + p0).Store(o);
        (o1 + p1).Store(o + 16);
        (o2 + p2).Store(o + 32);
        (o3 + p3).Store(o + 48);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float HorizontalSum(Vector512<float> v)
    {
        var h = v.GetLower() + v.GetUpper();
        return Vector128.Sum(h.GetLower() + h.GetUpper());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(SimdLevel simd, float* x, float* y, int d)
    {
        int i = 0;
        float s = 0;
        if (simd == SimdLevel.Vector512)
        {
            var acc = Vector512<float>.Zero;
            for (; i + 16 <= d; i += 16)
            {
                acc = Vector512.FusedMultiplyAdd(Vector512.Load(x + i), Vector512.Load(y + i), acc);
            }

            s = HorizontalSum(acc);
        }

        if (simd != SimdLevel.Scalar)
        {
            var acc = Vector256<float>.Zero;
            for (; i + 8 <= d; i += 8)
            {
                acc = Vector256.FusedMultiplyAdd(Vector256.Load(x + i), Vector256.Load(y + i), acc);
            }

            var h = acc.GetLower() + acc.GetUpper();
            s += Vector128.Sum(h);
        }

        for (; i < d; i++)
        {
            s += x[i] * y[i];
        }

        return s;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(SimdLevel simd, float w, float* x, float* y, int d)
    {
        int i = 0;
        if (simd == SimdLevel.Vector512)
        {
            var wv = Vector512.Create(w);
            for (; i + 16 <= d; i += 16)
            {
                Vector512.FusedMultiplyAdd(wv, Vector512.Load(x + i), Vector512.Load(y + i)).Store(y + i);
            }
        }

        if (simd != SimdLevel.Scalar)
        {
            var wv = Vector256.Create(w);
            for (; i + 8 <= d; i += 8)
            {
                Vector256.FusedMultiplyAdd(wv, Vector256.Load(x + i), Vector256.Load(y + i)).Store(y + i);
            }
        }

        for (; i < d; i++)
        {
            y[i] += w * x[i];
        }
    }

    private static void Scale(SimdLevel simd, float* y, int d, float s)
    {
        int i = 0;
        if (simd != SimdLevel.Scalar)
        {
            var sv = Vector256.Create(s);
            for (; i + 8 <= d; i += 8)
            {
                (Vector256.Load(y + i) * sv).Store(y + i);
            }
        }

        for (; i < d; i++)
        {
            y[i] *= s;
        }
    }
}
