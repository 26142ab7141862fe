using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EsoLM.Tensors;

/// <summary>
/// Decoding windows (a few queries per sequence and head over a long KV cache): queries are processed in pairs, and each
/// cached key and value row is loaded once for both queries of a pair (fp32 rows, or bfloat16 rows widened in registers).
/// Every query gets exactly the operations, in exactly the order, of the one-query path (<see cref="OneQuery"/>): the
/// same per-key dot product and horizontal sum, the same softmax calls, the same even/odd value accumulators per key
/// range. So the fp32 result is bit-identical to <see cref="AttendHead"/>, and the bf16 result is bit-identical to
/// <see cref="AttendHead"/> over the widened entries. bf16 rows are in the KV-cache row layout
/// (<see cref="LowPrecision.Bf16RowSlot"/>, written by <see cref="ToBFloat16Rows"/>).
/// </summary>
internal static unsafe partial class Attention
{
    /// <summary>Head width of the windowed kernels.</summary>
    internal const int WindowHeadDim = 64;

    /// <summary>Whether <see cref="AttendWindow"/> / <see cref="AttendWindowBf16"/> can run here (Vector512 hardware).</summary>
    internal static bool WindowSupported => Vector512.IsHardwareAccelerated;

    /// <summary>
    /// <see cref="AttendHead"/> for head width 64 with Vector512 (same bits), loading each key/value row once per pair of
    /// queries. Meant for fewer than <see cref="BlockedMinQueries"/> queries (decoding windows); any count works.
    /// </summary>
    /// <param name="queries">Query rows (row r at r·<paramref name="queryStride"/>).</param>
    /// <param name="queryStride">Distance between query rows.</param>
    /// <param name="queryCount">Number of queries.</param>
    /// <param name="keys">Keys [slots, 64].</param>
    /// <param name="values">Values [slots, 64].</param>
    /// <param name="visible">Visible key ranges, one per query.</param>
    /// <param name="output">Output rows.</param>
    /// <param name="outputStride">Distance between output rows.</param>
    /// <param name="scale">Score scale.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AttendWindow(ReadOnlySpan<float> queries, int queryStride, int queryCount, ReadOnlySpan<float> keys,
        ReadOnlySpan<float> values, ReadOnlySpan<KeyRange> visible, Span<float> output, int outputStride, float scale)
    {
        int slots = CheckWindow(queries, queryStride, queryCount, keys, values, visible, output, outputStride);
        if (queryCount == 0)
        {
            return;
        }

        fixed (float* pq = queries)
        fixed (float* pk = keys)
        fixed (float* pv = values)
        fixed (float* po = output)
        {
            Window<float, Fp32Rows>(pq, queryStride, queryCount, pk, pv, visible, po, outputStride, scale, slots);
        }
    }

    /// <summary>
    /// <see cref="AttendWindow"/> over bfloat16 keys and values, widened (exactly) in registers: the same bits as
    /// <see cref="AttendHead"/> over the widened entries, with half the bytes read.
    /// </summary>
    /// <param name="queries">Query rows (row r at r·<paramref name="queryStride"/>).</param>
    /// <param name="queryStride">Distance between query rows.</param>
    /// <param name="queryCount">Number of queries.</param>
    /// <param name="keys">bfloat16 keys [slots, 64] in cache row layout (<see cref="LowPrecision.Bf16RowSlot"/>).</param>
    /// <param name="values">bfloat16 values [slots, 64] in cache row layout.</param>
    /// <param name="visible">Visible key ranges, one per query.</param>
    /// <param name="output">Output rows.</param>
    /// <param name="outputStride">Distance between output rows.</param>
    /// <param name="scale">Score scale.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AttendWindowBf16(ReadOnlySpan<float> queries, int queryStride, int queryCount, ReadOnlySpan<ushort> keys,
        ReadOnlySpan<ushort> values, ReadOnlySpan<KeyRange> visible, Span<float> output, int outputStride, float scale)
    {
        int slots = CheckWindow(queries, queryStride, queryCount, keys, values, visible, output, outputStride);
        if (queryCount == 0)
        {
            return;
        }

        fixed (float* pq = queries)
        fixed (ushort* pk = keys)
        fixed (ushort* pv = values)
        fixed (float* po = output)
        {
            Window<ushort, Bf16Rows>(pq, queryStride, queryCount, pk, pv, visible, po, outputStride, scale, slots);
        }
    }

    /// <summary>
    /// Rounds rows of fp32 values to bfloat16 bits (nearest, ties to even; a NaN stays a quiet NaN, exactly as
    /// <see cref="LowPrecision.ToBFloat16"/>) and stores them in the KV-cache row layout (<see cref="LowPrecision.Bf16RowSlot"/>),
    /// 32 entries at a time with Vector512: the bf16 KV-cache writes.
    /// </summary>
    /// <param name="source">fp32 rows of <paramref name="rowLength"/> entries.</param>
    /// <param name="destination">bfloat16 rows in cache layout (at least as long as <paramref name="source"/>).</param>
    /// <param name="rowLength">Entries per row (the head width).</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ToBFloat16Rows(ReadOnlySpan<float> source, Span<ushort> destination, int rowLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rowLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, source.Length, nameof(destination));
        if (source.Length % rowLength != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(source), source.Length, $"The source must hold whole rows of {rowLength}.");
        }

        int whole = rowLength - (rowLength % 32);
        fixed (float* src = source)
        fixed (ushort* dst = destination)
        {
            for (int row = 0; row < source.Length; row += rowLength)
            {
                int c = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    var one = Vector512.Create(1u);
                    var half = Vector512.Create(0x7FFFu);
                    var quiet = Vector512.Create(0x40u);
                    for (; c < whole; c += 32)
                    {
                        // Entries c..c+15 in the low halves of the words, c+16..c+31 in the high halves.
                        var lo = Round(Vector512.Load(src + row + c), one, half, quiet);
                        var hi = Round(Vector512.Load(src + row + c + 16), one, half, quiet);
                        (lo | Vector512.ShiftLeft(hi, 16)).Store((uint*)(dst + row + c));
                    }
                }

                for (; c < rowLength; c++)
                {
                    dst[row + LowPrecision.Bf16RowSlot(c, rowLength)] = LowPrecision.ToBFloat16(src[row + c]);
                }
            }
        }

        static Vector512<uint> Round(Vector512<float> x, Vector512<uint> one, Vector512<uint> half, Vector512<uint> quiet)
        {
            var bits = x.AsUInt32();
            var rounded = Vector512.ShiftRightLogical(bits + half + (Vector512.ShiftRightLogical(bits, 16) & one), 16);
            var nan = Vector512.ShiftRightLogical(bits, 16) | quiet;
            return Vector512.ConditionalSelect(Vector512.Equals(x, x).AsUInt32(), rounded, nan);
        }
    }

    private static int CheckWindow<TElement>(ReadOnlySpan<float> queries, int queryStride, int queryCount, ReadOnlySpan<TElement> keys,
        ReadOnlySpan<TElement> values, ReadOnlySpan<KeyRange> visible, ReadOnlySpan<float> output, int outputStride)
    {
        const int d = WindowHeadDim;
        if (!Vector512.IsHardwareAccelerated)
        {
            throw new PlatformNotSupportedException("The windowed attention kernels need Vector512 hardware.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(queryCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(visible.Length, queryCount, nameof(visible));
        ArgumentOutOfRangeException.ThrowIfNotEqual(values.Length, keys.Length, nameof(values));
        if (keys.Length % d != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(keys), keys.Length, $"The key buffer must hold whole rows of {d}.");
        }

        int slots = keys.Length / d;
        if (queryCount == 0)
        {
            return slots;
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(queries.Length, ((queryCount - 1) * queryStride) + d, nameof(queries));
        ArgumentOutOfRangeException.ThrowIfLessThan(output.Length, ((queryCount - 1) * outputStride) + d, nameof(output));
        for (int r = 0; r < queryCount; r++)
        {
            var vr = visible[r];
            if (vr.Count != 0 && (vr.Start0 < 0 || vr.Start1 < 0 || vr.End0 < vr.Start0 || vr.End1 < vr.Start1 || vr.MaxEnd > slots))
            {
                throw new ArgumentOutOfRangeException(nameof(visible), vr, $"Key ranges must lie in [0, {slots}).");
            }

            if (vr.End0 > vr.Start0 && vr.End1 > vr.Start1 && vr.Start0 < vr.End1 && vr.Start1 < vr.End0)
            {
                throw new ArgumentOutOfRangeException(nameof(visible), vr, "The two key ranges of a query must not overlap.");
            }
        }

        return slots;
    }

    /// <summary>Loads one cached row of 64 entries as four fp32 vectors.</summary>
    private interface IRows<TElement>
        where TElement : unmanaged
    {
        static abstract void Load(TElement* row, out Vector512<float> a, out Vector512<float> b, out Vector512<float> c, out Vector512<float> d);
    }

    private readonly struct Fp32Rows : IRows<float>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(float* row, out Vector512<float> a, out Vector512<float> b, out Vector512<float> c, out Vector512<float> d)
        {
            a = Vector512.Load(row);
            b = Vector512.Load(row + 16);
            c = Vector512.Load(row + 32);
            d = Vector512.Load(row + 48);
        }
    }

    /// <summary>
    /// A bf16 cache row in the layout of <see cref="LowPrecision.Bf16RowSlot"/>: each 64-byte load holds entries 0..15
    /// in the low halves of its words and 16..31 in the high halves, so a shift and a mask widen them (exactly) with
    /// two operations per 32 entries instead of a widening shuffle and a shift per 16.
    /// </summary>
    private readonly struct Bf16Rows : IRows<ushort>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(ushort* row, out Vector512<float> a, out Vector512<float> b, out Vector512<float> c, out Vector512<float> d)
        {
            (a, b) = LowPrecision.WidenBf16Group(row);
            (c, d) = LowPrecision.WidenBf16Group(row + 32);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Window<TElement, TRows>(float* queries, int queryStride, int queryCount, TElement* keys, TElement* values,
        ReadOnlySpan<KeyRange> visible, float* output, int outputStride, float scale, int slots)
        where TElement : unmanaged
        where TRows : struct, IRows<TElement>
    {
        // Two score rows (one per query of a pair) in the calling thread's scratch.
        float* scores = Scratch.Get(Scratch.Scores, 2 * Math.Max(slots, 1));
        int r = 0;
        for (; r + 2 <= queryCount; r += 2)
        {
            Pair<TElement, TRows>(queries + ((nint)r * queryStride), queries + ((nint)(r + 1) * queryStride), keys, values,
                visible[r], visible[r + 1], output + ((nint)r * outputStride), output + ((nint)(r + 1) * outputStride), scale, scores, scores + slots);
        }

        if (r < queryCount)
        {
            Single<TElement, TRows>(queries + ((nint)r * queryStride), keys, values, visible[r], output + ((nint)r * outputStride), scale, scores);
        }
    }

    /// <summary>Range <paramref name="pass"/> (0 or 1) of <paramref name="vr"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (int Start, int End) Range(KeyRange vr, int pass) => pass == 0 ? (vr.Start0, vr.End0) : (vr.Start1, vr.End1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Score(Vector512<float> q0, Vector512<float> q1, Vector512<float> q2, Vector512<float> q3,
        Vector512<float> k0, Vector512<float> k1, Vector512<float> k2, Vector512<float> k3)
        => HorizontalSum(Products(q0, q1, q2, q3, k0, k1, k2, k3)); // exactly OneQuery's Vector512 dot product

    /// <summary>Cached rows ahead of the loads that the paired key and value loops prefetch (the cache streams from memory).</summary>
    private const int PrefetchRowsAhead = 16;

    /// <summary>
    /// Prefetches <paramref name="rows"/> cached rows of 64 entries into L2, one request per 128 bytes (the hardware
    /// fetches the adjacent line). Past the end of the cache is harmless: prefetches never fault.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchRows<TElement>(TElement* first, int rows)
        where TElement : unmanaged
    {
        byte* p = (byte*)first;
        int bytes = rows * 64 * sizeof(TElement);
        for (int o = 0; Sse.IsSupported && o < bytes; o += 128)
        {
            Sse.Prefetch1(p + o);
        }
    }

    /// <summary>
    /// The eight horizontal sums HorizontalSum(x0) … HorizontalSum(x7), in order, computed together: the same additions
    /// on the same operands (upper 256 bits onto the lower, upper 128 onto the lower, then (g0 + g1) + (g2 + g3) as
    /// <see cref="Vector128.Sum{T}(Vector128{T})"/> does), so each is bit-identical to the one-at-a-time sum, with the
    /// shuffles shared by eight vectors instead of spent on each one.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Sum8(Vector512<float> x0, Vector512<float> x1, Vector512<float> x2, Vector512<float> x3,
        Vector512<float> x4, Vector512<float> x5, Vector512<float> x6, Vector512<float> x7)
    {
        // 128-bit lanes L0..L3: lanes (L0 + L2, L1 + L3) of two vectors side by side.
        var s01 = Avx512F.Shuffle4x128(x0, x1, 0x44) + Avx512F.Shuffle4x128(x0, x1, 0xEE);
        var s23 = Avx512F.Shuffle4x128(x2, x3, 0x44) + Avx512F.Shuffle4x128(x2, x3, 0xEE);
        var s45 = Avx512F.Shuffle4x128(x4, x5, 0x44) + Avx512F.Shuffle4x128(x4, x5, 0xEE);
        var s67 = Avx512F.Shuffle4x128(x6, x7, 0x44) + Avx512F.Shuffle4x128(x6, x7, 0xEE);

        // Lane j: (L0 + L2) + (L1 + L3) of x_j (t0) and x_{4+j} (t1), the four values g0..g3 of each sum.
        var t0 = Avx512F.Shuffle4x128(s01, s23, 0x88) + Avx512F.Shuffle4x128(s01, s23, 0xDD);
        var t1 = Avx512F.Shuffle4x128(s45, s67, 0x88) + Avx512F.Shuffle4x128(s45, s67, 0xDD);

        // Per lane [g0 + g1, g2 + g3] of t0 and t1, then (g0 + g1) + (g2 + g3) in elements 0 (t0) and 2 (t1).
        var r = Avx512F.Shuffle(t0, t1, 0x88) + Avx512F.Shuffle(t0, t1, 0xDD);
        var w = r + Avx512F.Shuffle(r, r, 0xB1);
        return Avx512F.PermuteVar16x32(w, Vector512.Create(0, 4, 8, 12, 2, 6, 10, 14, 0, 4, 8, 12, 2, 6, 10, 14)).GetLower();
    }

    /// <summary>The dot product of <see cref="Score"/> before its horizontal sum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Products(Vector512<float> q0, Vector512<float> q1, Vector512<float> q2, Vector512<float> q3,
        Vector512<float> k0, Vector512<float> k1, Vector512<float> k2, Vector512<float> k3)
    {
        var acc = Vector512.FusedMultiplyAdd(q1, k1, q0 * k0);
        acc = Vector512.FusedMultiplyAdd(q2, k2, acc);
        return Vector512.FusedMultiplyAdd(q3, k3, acc);
    }

    /// <summary>Products of one query against cached row <paramref name="kk"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> RowProducts<TElement, TRows>(TElement* keys, int kk, Vector512<float> q0, Vector512<float> q1,
        Vector512<float> q2, Vector512<float> q3)
        where TElement : unmanaged
        where TRows : struct, IRows<TElement>
    {
        TRows.Load(keys + ((nint)kk * 64), out var k0, out var k1, out var k2, out var k3);
        return Products(q0, q1, q2, q3, k0, k1, k2, k3);
    }

    /// <summary>Scores of one query over keys [s, e) into scores[s..e), eight keys per horizontal-sum batch.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // own inlining budget: its helpers must inline
    private static void ScoreRange<TElement, TRows>(TElement* keys, int s, int e, Vector512<float> q0, Vector512<float> q1, Vector512<float> q2,
        Vector512<float> q3, float* scores)
        where TElement : unmanaged
        where TRows : struct, IRows<TElement>
    {
        int kk = s;
        for (; kk + 8 <= e; kk += 8)
        {
            Sum8(
                RowProducts<TElement, TRows>(keys, kk, q0, q1, q2, q3),
                RowProducts<TElement, TRows>(keys, kk + 1, q0, q1, q2, q3),
                RowProducts<TElement, TRows>(keys, kk + 2, q0, q1, q2, q3),
                RowProducts<TElement, TRows>(keys, kk + 3, q0, q1, q2, q3),
                RowProducts<TElement, TRows>(keys, kk + 4, q0, q1, q2, q3),
                RowProducts<TElement, TRows>(keys, kk + 5, q0, q1, q2, q3),
                RowProducts<TElement, TRows>(keys, kk + 6, q0, q1, q2, q3),
                RowProducts<TElement, TRows>(keys, kk + 7, q0, q1, q2, q3)).Store(scores + kk);
        }

        for (; kk < e; kk++)
        {
            TRows.Load(keys + ((nint)kk * 64), out var k0, out var k1, out var k2, out var k3);
            scores[kk] = Score(q0, q1, q2, q3, k0, k1, k2, k3);
        }
    }

    /// <summary>Scores of both queries of a pair over keys [s, e) (rows loaded once), four keys per horizontal-sum batch.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)] // own inlining budget: its helpers must inline
    private static void ScorePairRange<TElement, TRows>(TElement* keys, int s, int e, Vector512<float> a0, Vector512<float> a1,
        Vector512<float> a2, Vector512<float> a3, Vector512<float> b0, Vector512<float> b1, Vector512<float> b2, Vector512<float> b3,
        float* sa, float* sb)
        where TElement : unmanaged
        where TRows : struct, IRows<TElement>
    {
        int kk = s;
        for (; kk + 4 <= e; kk += 4)
        {
            PrefetchRows(keys + ((nint)(kk + PrefetchRowsAhead) * 64), 4);
            TRows.Load(keys + ((nint)kk * 64), out var k0, out var k1, out var k2, out var k3);
            var pa0 = Products(a0, a1, a2, a3, k0, k1, k2, k3);
            var pb0 = Products(b0, b1, b2, b3, k0, k1, k2, k3);
            TRows.Load(keys + ((nint)(kk + 1) * 64), out k0, out k1, out k2, out k3);
            var pa1 = Products(a0, a1, a2, a3, k0, k1, k2, k3);
            var pb1 = Products(b0, b1, b2, b3, k0, k1, k2, k3);
            TRows.Load(keys + ((nint)(kk + 2) * 64), out k0, out k1, out k2, out k3);
            var pa2 = Products(a0, a1, a2, a3, k0, k1, k2, k3);
            var pb2 = Products(b0, b1, b2, b3, k0, k1, k2, k3);
            TRows.Load(keys + ((nint)(kk + 3) * 64), out k0, out k1, out k2, out k3);
            var pa3 = Products(a0, a1, a2, a3, k0, k1, k2, k3);
            var pb3 = Products(b0, b1, b2, b3, k0, k1, k2, k3);
            var sums = Sum8(pa0, pa1, pa2, pa3, pb0, pb1, pb2, pb3);
            sums.GetLower().Store(sa + kk);
            sums.GetUpper().Store(sb + kk);
        }

        for (; kk < e; kk++)
        {
            TRows.Load(keys + ((nint)kk * 64), out var k0, out var k1, out var k2, out var k3);
            sa[kk] = Score(a0, a1, a2, a3, k0, k1, k2, k3);
            sb[kk] = Score(b0, b1, b2, b3, k0, k1, k2, k3);
        }
    }

    /// <summary>
    /// The largest score over both ranges: the value OneQuery's running <see cref="MathF.Max(float, float)"/> reaches
    /// (maximum is exact and order-free; <see cref="TensorPrimitives.Max{T}(ReadOnlySpan{T})"/> has the same NaN and
    /// ±0 rules), computed after the scores so the key loops carry no dependency from one key to the next.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float RangeMax(float* scores, KeyRange vr)
    {
        float max = float.NegativeInfinity;
        for (int pass = 0; pass < 2; pass++)
        {
            var (s, e) = Range(vr, pass);
            if (e > s)
            {
                max = MathF.Max(max, TensorPrimitives.Max(new ReadOnlySpan<float>(scores + s, e - s)));
            }
        }

        return max;
    }

    /// <summary>OneQuery's softmax numerators in place over both ranges; returns their sum (in double, in the same order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Exponentiate(float* scores, KeyRange vr, float max)
    {
        double sum = 0;
        for (int pass = 0; pass < 2; pass++)
        {
            var (s, e) = Range(vr, pass);
            if (e <= s)
            {
                continue;
            }

            var span = new Span<float>(scores + s, e - s);
            TensorPrimitives.Subtract(span, max, span);
            TensorPrimitives.Exp(span, span);
            sum += TensorPrimitives.Sum<float>(span);
        }

        return sum;
    }

    /// <summary>One query's accumulators: o (running sum, as stored between ranges) and p (odd keys of the current range).</summary>
    private struct Accumulator
    {
        public Vector512<float> O0, O1, O2, O3, P0, P1, P2, P3;

        /// <summary>Adds w·row into the o (even) or p (odd) half.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void AddO(Vector512<float> w, Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
        {
            O0 = Vector512.FusedMultiplyAdd(w, a, O0);
            O1 = Vector512.FusedMultiplyAdd(w, b, O1);
            O2 = Vector512.FusedMultiplyAdd(w, c, O2);
            O3 = Vector512.FusedMultiplyAdd(w, d, O3);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void AddP(Vector512<float> w, Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
        {
            P0 = Vector512.FusedMultiplyAdd(w, a, P0);
            P1 = Vector512.FusedMultiplyAdd(w, b, P1);
            P2 = Vector512.FusedMultiplyAdd(w, c, P2);
            P3 = Vector512.FusedMultiplyAdd(w, d, P3);
        }

        /// <summary>The end of one range in Accumulate64: o ← o + p (stored), p ← 0 for the next range.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Fold()
        {
            O0 += P0;
            O1 += P1;
            O2 += P2;
            O3 += P3;
            P0 = P1 = P2 = P3 = default;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly void Store(float* o, float inv)
        {
            var s = Vector512.Create(inv);
            (O0 * s).Store(o);
            (O1 * s).Store(o + 16);
            (O2 * s).Store(o + 32);
            (O3 * s).Store(o + 48);
        }
    }

    /// <summary>Accumulate64's loop from kk (relative pairing to the range start already applied by the caller) to e.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateRest<TElement, TRows>(TElement* values, int kk, int e, float* scores, ref Accumulator acc)
        where TElement : unmanaged
        where TRows : struct, IRows<TElement>
    {
        for (; kk + 2 <= e; kk += 2)
        {
            TRows.Load(values + ((nint)kk * 64), out var a0, out var a1, out var a2, out var a3);
            TRows.Load(values + ((nint)(kk + 1) * 64), out var b0, out var b1, out var b2, out var b3);
            acc.AddO(Vector512.Create(scores[kk]), a0, a1, a2, a3);
            acc.AddP(Vector512.Create(scores[kk + 1]), b0, b1, b2, b3);
        }

        if (kk < e)
        {
            TRows.Load(values + ((nint)kk * 64), out var a0, out var a1, out var a2, out var a3);
            acc.AddO(Vector512.Create(scores[kk]), a0, a1, a2, a3);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Single<TElement, TRows>(float* q, TElement* keys, TElement* values, KeyRange vr, float* o, float scale, float* scores)
        where TElement : unmanaged
        where TRows : struct, IRows<TElement>
    {
        if (vr.Count == 0)
        {
            new Span<float>(o, 64).Clear();
            return;
        }

        var q0 = Vector512.Load(q) * scale;
        var q1 = Vector512.Load(q + 16) * scale;
        var q2 = Vector512.Load(q + 32) * scale;
        var q3 = Vector512.Load(q + 48) * scale;
        for (int pass = 0; pass < 2; pass++)
        {
            var (s, e) = Range(vr, pass);
            ScoreRange<TElement, TRows>(keys, s, e, q0, q1, q2, q3, scores);
        }

        float inv = (float)(1.0 / Exponentiate(scores, vr, RangeMax(scores, vr)));
        var acc = default(Accumulator);
        for (int pass = 0; pass < 2; pass++)
        {
            var (s, e) = Range(vr, pass);
            AccumulateRest<TElement, TRows>(values, s, e, scores, ref acc);
            acc.Fold();
        }

        acc.Store(o, inv);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pair<TElement, TRows>(float* qa, float* qb, TElement* keys, TElement* values, KeyRange va, KeyRange vb, float* oa, float* ob,
        float scale, float* sa, float* sb)
        where TElement : unmanaged
        where TRows : struct, IRows<TElement>
    {
        if (va.Count == 0 || vb.Count == 0)
        {
            Single<TElement, TRows>(qa, keys, values, va, oa, scale, sa);
            Single<TElement, TRows>(qb, keys, values, vb, ob, scale, sb);
            return;
        }

        // The loops prefetch PrefetchRowsAhead rows ahead of themselves; the first rows of the keys and of the values
        // are requested here, so the value pass does not start on a cold stream after the scores.
        PrefetchRows(keys + ((nint)Math.Max(va.Start0, vb.Start0) * 64), PrefetchRowsAhead);
        PrefetchRows(values + ((nint)va.Start0 * 64), PrefetchRowsAhead);

        var a0 = Vector512.Load(qa) * scale;
        var a1 = Vector512.Load(qa + 16) * scale;
        var a2 = Vector512.Load(qa + 32) * scale;
        var a3 = Vector512.Load(qa + 48) * scale;
        var b0 = Vector512.Load(qb) * scale;
        var b1 = Vector512.Load(qb + 16) * scale;
        var b2 = Vector512.Load(qb + 32) * scale;
        var b3 = Vector512.Load(qb + 48) * scale;
        for (int pass = 0; pass < 2; pass++)
        {
            var (s0, e0) = Range(va, pass);
            var (s1, e1) = Range(vb, pass);

            // Keys both queries see in this range: each row loaded once. Scores do not depend on each other, so any split
            // of a range gives the same values.
            int js = Math.Max(s0, s1), je = Math.Min(e0, e1);
            if (je > js)
            {
                ScorePairRange<TElement, TRows>(keys, js, je, a0, a1, a2, a3, b0, b1, b2, b3, sa, sb);

                ScoreRange<TElement, TRows>(keys, s0, js, a0, a1, a2, a3, sa);
                ScoreRange<TElement, TRows>(keys, je, e0, a0, a1, a2, a3, sa);
                ScoreRange<TElement, TRows>(keys, s1, js, b0, b1, b2, b3, sb);
                ScoreRange<TElement, TRows>(keys, je, e1, b0, b1, b2, b3, sb);
            }
            else
            {
                ScoreRange<TElement, TRows>(keys, s0, e0, a0, a1, a2, a3, sa);
                ScoreRange<TElement, TRows>(keys, s1, e1, b0, b1, b2, b3, sb);
            }
        }

        float invA = (float)(1.0 / Exponentiate(sa, va, RangeMax(sa, va)));
        float invB = (float)(1.0 / Exponentiate(sb, vb, RangeMax(sb, vb)));
        var accA = default(Accumulator);
        var accB = default(Accumulator);
        for (int pass = 0; pass < 2; pass++)
        {
            var (s0, e0) = Range(va, pass);
            var (s1, e1) = Range(vb, pass);
            int kk = s0, kb = s1;
            if (s0 == s1)
            {
                // Same start: the even/odd pairing of both queries coincides, so the pairs both see are read once.
                int e = Math.Min(e0, e1);
                for (; kk + 2 <= e; kk += 2)
                {
                    PrefetchRows(values + ((nint)(kk + PrefetchRowsAhead) * 64), 2);
                    TRows.Load(values + ((nint)kk * 64), out var v0, out var v1, out var v2, out var v3);
                    TRows.Load(values + ((nint)(kk + 1) * 64), out var w0, out var w1, out var w2, out var w3);
                    accA.AddO(Vector512.Create(sa[kk]), v0, v1, v2, v3);
                    accA.AddP(Vector512.Create(sa[kk + 1]), w0, w1, w2, w3);
                    accB.AddO(Vector512.Create(sb[kk]), v0, v1, v2, v3);
                    accB.AddP(Vector512.Create(sb[kk + 1]), w0, w1, w2, w3);
                }

                kb = kk;
            }

            AccumulateRest<TElement, TRows>(values, kk, e0, sa, ref accA);
            AccumulateRest<TElement, TRows>(values, kb, e1, sb, ref accB);
            accA.Fold();
            accB.Fold();
        }

        accA.Store(oa, invA);
        accB.Store(ob, invB);
    }
}
