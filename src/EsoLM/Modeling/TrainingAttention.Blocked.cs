using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using EsoLM.Tensors;

namespace EsoLM.Modeling;

/// <summary>
/// Blocked attention backward of one (sequence, head), flash-attention style: the queries are walked in tiles of
/// <see cref="QueryTile"/> rows; each tile computes its scores only over the key spans its rows can see (the union of
/// their <see cref="KeyRange"/>s, rounded to 16 keys), the exact masked softmax of those rows, dP = dO·Vᵀ and
/// dS = P ⊙ (dP − rowsum(dO ⊙ O))·scale on the same spans, then dQ(tile) = dS·K and the rank-<see cref="QueryTile"/>
/// updates dK(span) += dSᵀ·Q(tile), dV(span) += Pᵀ·dO(tile), all with 4×64 Vector512 FMA register tiles. The tiles
/// run in a fixed order on one thread, so dK and dV are summed in the same order on any thread count (callers
/// parallelise over (sequence, head), whose outputs are disjoint).
/// </summary>
internal static unsafe partial class TrainingAttention
{
    /// <summary>Query rows per tile (a multiple of the 4-row register tile and of 16).</summary>
    internal const int QueryTile = 32;

    /// <summary>Sequences shorter than this use the plain path (the tiles would be mostly padding).</summary>
    internal const int BlockedMinRows = 16;

    private const int Lanes = 16;

    [ThreadStatic]
    private static float[]? _blockedBuffer;

    /// <summary>
    /// The size rule: the blocked backward runs with AVX-512, head widths that are a multiple of 16 and sequences of at
    /// least <see cref="BlockedMinRows"/> rows; elsewhere the plain small-GEMM path (<see cref="BackwardPlain"/>) runs.
    /// </summary>
    internal static bool UseBlocked(SimdLevel simd, int n, int headDim) =>
        simd == SimdLevel.Vector512 && Vector512.IsHardwareAccelerated && headDim % Lanes == 0 && n >= BlockedMinRows;

    /// <summary>
    /// Adds dQ, dK and dV of one (sequence, head) into <paramref name="dQkv"/>; same contract as <see cref="BackwardPlain"/>.
    /// Requires <c>headDim % 16 == 0</c> and Vector512.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BackwardBlocked(float[] qkv, float[] output, float[] dOut, int rowStart, int n, int head, int hidden, int headDim,
        ReadOnlySpan<KeyRange> visible, float scale, float[] dQkv)
    {
        if (headDim % Lanes != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(headDim), headDim, $"The blocked attention backward needs a head width that is a multiple of {Lanes}.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(visible.Length, n, nameof(visible));
        int d = headDim;
        int nPad = RoundUp(n, QueryTile);
        int nd = nPad * d;
        int total = (7 * nd) + (2 * QueryTile * nPad) + (QueryTile * d) + nPad + 16;
        var buffer = BlockedBuffer(total);
        int stride = 3 * hidden, qOff = head * d;
        fixed (float* basePtr = buffer)
        fixed (float* pQkv = qkv)
        fixed (float* pOut = output)
        fixed (float* pdOut = dOut)
        fixed (float* pdQkv = dQkv)
        {
            float* q = Align(basePtr);
            float* k = q + nd;
            float* kT = k + nd;
            float* vT = kT + nd;
            float* dO = vT + nd;
            float* dK = dO + nd;
            float* dV = dK + nd;
            float* s = dV + nd;
            float* dp = s + (QueryTile * nPad);
            float* dq = dp + (QueryTile * nPad);
            float* delta = dq + (QueryTile * d);

            // Pack: Q, K, dO as rows; Kᵀ and Vᵀ as [d, nPad]; padding is zero so padded keys and rows contribute nothing.
            int padRows = nPad - n;
            new Span<float>(q + ((nint)n * d), padRows * d).Clear();
            new Span<float>(k + ((nint)n * d), padRows * d).Clear();
            new Span<float>(dO + ((nint)n * d), padRows * d).Clear();
            new Span<float>(dK, 2 * nd).Clear();
            for (int c = 0; c < d && padRows > 0; c++)
            {
                new Span<float>(kT + ((nint)c * nPad) + n, padRows).Clear();
                new Span<float>(vT + ((nint)c * nPad) + n, padRows).Clear();
            }

            for (int j = 0; j < n; j++)
            {
                float* row = pQkv + ((nint)(rowStart + j) * stride) + qOff;
                new ReadOnlySpan<float>(row, d).CopyTo(new Span<float>(q + ((nint)j * d), d));
                new ReadOnlySpan<float>(row + hidden, d).CopyTo(new Span<float>(k + ((nint)j * d), d));
                var go = new ReadOnlySpan<float>(pdOut + ((nint)(rowStart + j) * hidden) + qOff, d);
                go.CopyTo(new Span<float>(dO + ((nint)j * d), d));
                delta[j] = TensorPrimitives.Dot(go, new ReadOnlySpan<float>(pOut + ((nint)(rowStart + j) * hidden) + qOff, d));
            }

            Transpose(pQkv + ((nint)rowStart * stride) + qOff + hidden, stride, n, d, kT, nPad);
            Transpose(pQkv + ((nint)rowStart * stride) + qOff + (2 * hidden), stride, n, d, vT, nPad);

            Span<int> spans = stackalloc int[4];
            Span<int> offsets = stackalloc int[2];
            Span<int> group = stackalloc int[4];
            for (int r0 = 0; r0 < n; r0 += QueryTile)
            {
                int rows = Math.Min(QueryTile, n - r0);
                int spanCount = TileSpans(visible.Slice(r0, rows), nPad, spans);
                if (spanCount == 0)
                {
                    continue; // No row of the tile sees a key: nothing flows back.
                }

                int ncols = 0;
                for (int i = 0; i < spanCount; i++)
                {
                    offsets[i] = ncols;
                    ncols += spans[(2 * i) + 1] - spans[2 * i];
                }

                // Per group of 4 rows, over the group's own key spans (inside the tile's): S = Q·Kᵀ, dP = dO·Vᵀ; then the
                // masked softmax and dS = P ⊙ (dP − δ)·scale row by row (exact: the tile holds whole visible rows; columns
                // outside a row's keys become 0); then dQ(group) = dS·K over the same spans.
                float* qt = q + ((nint)r0 * d), dot = dO + ((nint)r0 * d);
                for (int g0 = 0; g0 < QueryTile; g0 += 4)
                {
                    int groupRows = Math.Clamp(rows - g0, 0, 4);
                    int groupCount = groupRows == 0 ? 0 : TileSpans(visible.Slice(r0 + g0, groupRows), nPad, group);
                    float* sg = s + ((nint)g0 * ncols), dpg = dp + ((nint)g0 * ncols), dqg = dq + ((nint)g0 * d);
                    for (int i = 0; i < groupCount; i++)
                    {
                        int st = group[2 * i], w = group[(2 * i) + 1] - st, col = Column(st, spans, offsets, spanCount);
                        Product(qt + ((nint)g0 * d), d, 1, d, kT + st, nPad, sg + col, ncols, 4, w, accumulate: false);
                        Product(dot + ((nint)g0 * d), d, 1, d, vT + st, nPad, dpg + col, ncols, 4, w, accumulate: false);
                    }

                    for (int r = g0; r < g0 + 4; r++)
                    {
                        var pRow = new Span<float>(s + ((nint)r * ncols), ncols);
                        var dRow = new Span<float>(dp + ((nint)r * ncols), ncols);
                        if (r >= rows || visible[r0 + r].Count == 0)
                        {
                            pRow.Clear();
                            dRow.Clear();
                        }
                        else
                        {
                            SoftmaxAndGradient(pRow, dRow, visible[r0 + r], spans, offsets, spanCount, scale, delta[r0 + r]);
                        }
                    }

                    if (groupCount == 0)
                    {
                        new Span<float>(dqg, 4 * d).Clear();
                    }

                    for (int i = 0; i < groupCount; i++)
                    {
                        int st = group[2 * i], w = group[(2 * i) + 1] - st, col = Column(st, spans, offsets, spanCount);
                        Product(dpg + col, ncols, 1, w, k + ((nint)st * d), d, dqg, d, 4, d, accumulate: i > 0);
                    }
                }

                for (int r = 0; r < rows; r++)
                {
                    var dst = new Span<float>(pdQkv + ((nint)(rowStart + r0 + r) * stride) + qOff, d);
                    TensorPrimitives.Add(dst, new ReadOnlySpan<float>(dq + ((nint)r * d), d), dst);
                }

                // dK(span) += dSᵀ·Q(tile), dV(span) += Pᵀ·dO(tile): rank-QueryTile updates in tile order.
                for (int i = 0; i < spanCount; i++)
                {
                    int st = spans[2 * i], w = spans[(2 * i) + 1] - st;
                    Product(dp + offsets[i], 1, ncols, QueryTile, qt, d, dK + ((nint)st * d), d, w, d, accumulate: true);
                    Product(s + offsets[i], 1, ncols, QueryTile, dot, d, dV + ((nint)st * d), d, w, d, accumulate: true);
                }
            }

            for (int j = 0; j < n; j++)
            {
                float* row = pdQkv + ((nint)(rowStart + j) * stride) + qOff + hidden;
                var dkRow = new Span<float>(row, d);
                TensorPrimitives.Add(dkRow, new ReadOnlySpan<float>(dK + ((nint)j * d), d), dkRow);
                var dvRow = new Span<float>(row + hidden, d);
                TensorPrimitives.Add(dvRow, new ReadOnlySpan<float>(dV + ((nint)j * d), d), dvRow);
            }
        }
    }

    /// <summary>
    /// The key spans (at most two, sorted, disjoint, 16-aligned, inside [0, <paramref name="nPad"/>)) that cover every
    /// visible key of the tile's rows; returns their count.
    /// </summary>
    internal static int TileSpans(ReadOnlySpan<KeyRange> rows, int nPad, Span<int> spans)
    {
        int a0 = int.MaxValue, a1 = -1, b0 = int.MaxValue, b1 = -1;
        foreach (var vr in rows)
        {
            if (vr.End0 > vr.Start0)
            {
                a0 = Math.Min(a0, vr.Start0);
                a1 = Math.Max(a1, vr.End0);
            }

            if (vr.End1 > vr.Start1)
            {
                b0 = Math.Min(b0, vr.Start1);
                b1 = Math.Max(b1, vr.End1);
            }
        }

        int count = 0;
        if (a1 >= 0)
        {
            spans[0] = a0 / Lanes * Lanes;
            spans[1] = Math.Min(RoundUp(a1, Lanes), nPad);
            count = 1;
        }

        if (b1 >= 0)
        {
            int s0 = b0 / Lanes * Lanes, s1 = Math.Min(RoundUp(b1, Lanes), nPad);
            if (count == 0)
            {
                spans[0] = s0;
                spans[1] = s1;
                count = 1;
            }
            else if (s0 < spans[1] && spans[0] < s1)
            {
                spans[0] = Math.Min(spans[0], s0);
                spans[1] = Math.Max(spans[1], s1);
            }
            else if (s1 <= spans[0])
            {
                spans[2] = spans[0];
                spans[3] = spans[1];
                spans[0] = s0;
                spans[1] = s1;
                count = 2;
            }
            else
            {
                spans[2] = s0;
                spans[3] = s1;
                count = 2;
            }
        }

        return count;
    }

    /// <summary>
    /// One row: scores → probabilities on the visible keys (0 elsewhere), and dP → dS = P ⊙ (dP − δ)·scale (0 elsewhere).
    /// Columns are the concatenated spans.
    /// </summary>
    private static void SoftmaxAndGradient(Span<float> p, Span<float> dp, KeyRange vr, ReadOnlySpan<int> spans, ReadOnlySpan<int> offsets,
        int spanCount, float scale, float delta)
    {
        // The row's (at most two) visible segments as column intervals, in column order.
        Span<int> seg = stackalloc int[4];
        int count = 0;
        if (vr.End0 > vr.Start0)
        {
            int c = Column(vr.Start0, spans, offsets, spanCount);
            seg[0] = c;
            seg[1] = c + (vr.End0 - vr.Start0);
            count = 1;
        }

        if (vr.End1 > vr.Start1)
        {
            int c = Column(vr.Start1, spans, offsets, spanCount);
            seg[2 * count] = c;
            seg[(2 * count) + 1] = c + (vr.End1 - vr.Start1);
            count++;
        }

        if (count == 2 && seg[2] < seg[0])
        {
            (seg[0], seg[1], seg[2], seg[3]) = (seg[2], seg[3], seg[0], seg[1]);
        }

        float max = float.NegativeInfinity;
        for (int i = 0; i < count; i++)
        {
            max = MathF.Max(max, Max(p[seg[2 * i]..seg[(2 * i) + 1]]));
        }

        float shift = max * scale;
        double sum = 0;
        for (int i = 0; i < count; i++)
        {
            var sub = p[seg[2 * i]..seg[(2 * i) + 1]];
            ScaleShift(sub, scale, shift);
            TensorPrimitives.Exp(sub, sub);
            sum += Sum(sub);
        }

        float inv = (float)(1.0 / sum);
        int previous = 0;
        for (int i = 0; i < count; i++)
        {
            int c0 = seg[2 * i], c1 = seg[(2 * i) + 1];
            p[previous..c0].Clear();
            dp[previous..c0].Clear();
            NormalizeAndGradient(p[c0..c1], dp[c0..c1], inv, delta, scale);
            previous = c1;
        }

        p[previous..].Clear();
        dp[previous..].Clear();
    }

    private static float Max(ReadOnlySpan<float> x)
    {
        fixed (float* px = x)
        {
            int i = 0;
            var m = Vector512.Create(float.NegativeInfinity);
            for (; i + Lanes <= x.Length; i += Lanes)
            {
                m = Vector512.Max(m, Vector512.Load(px + i));
            }

            float r = Vector512.Max(m, Vector512.Create(float.NegativeInfinity)).ToScalar();
            for (int l = 1; l < Lanes; l++)
            {
                r = MathF.Max(r, m.GetElement(l));
            }

            for (; i < x.Length; i++)
            {
                r = MathF.Max(r, px[i]);
            }

            return r;
        }
    }

    private static float Sum(ReadOnlySpan<float> x)
    {
        fixed (float* px = x)
        {
            int i = 0;
            var acc = Vector512<float>.Zero;
            for (; i + Lanes <= x.Length; i += Lanes)
            {
                acc += Vector512.Load(px + i);
            }

            float r = Vector512.Sum(acc);
            for (; i < x.Length; i++)
            {
                r += px[i];
            }

            return r;
        }
    }

    /// <summary>x ← x·scale − shift.</summary>
    private static void ScaleShift(Span<float> x, float scale, float shift)
    {
        fixed (float* px = x)
        {
            int i = 0;
            var vs = Vector512.Create(scale);
            var vh = Vector512.Create(shift);
            for (; i + Lanes <= x.Length; i += Lanes)
            {
                Vector512.FusedMultiplyAdd(Vector512.Load(px + i), vs, -vh).Store(px + i);
            }

            for (; i < x.Length; i++)
            {
                px[i] = MathF.FusedMultiplyAdd(px[i], scale, -shift);
            }
        }
    }

    /// <summary>p ← p·inv; dp ← p·(dp − δ)·scale (with the new p).</summary>
    private static void NormalizeAndGradient(Span<float> p, Span<float> dp, float inv, float delta, float scale)
    {
        fixed (float* pp = p)
        fixed (float* pd = dp)
        {
            int i = 0;
            var vi = Vector512.Create(inv);
            var vd = Vector512.Create(delta);
            var vs = Vector512.Create(scale);
            for (; i + Lanes <= p.Length; i += Lanes)
            {
                var pv = Vector512.Load(pp + i) * vi;
                pv.Store(pp + i);
                ((Vector512.Load(pd + i) - vd) * pv * vs).Store(pd + i);
            }

            for (; i < p.Length; i++)
            {
                float pv = pp[i] * inv;
                pp[i] = pv;
                pd[i] = (pd[i] - delta) * pv * scale;
            }
        }
    }

    /// <summary>dst[c·ld + j] = src[j·stride + c] for j &lt; n, c &lt; d (d a multiple of 16), in 16×16 blocks.</summary>
    private static void Transpose(float* src, nint stride, int n, int d, float* dst, nint ld)
    {
        for (int j0 = 0; j0 < n; j0 += Lanes)
        {
            int jn = Math.Min(Lanes, n - j0);
            for (int c0 = 0; c0 < d; c0 += Lanes)
            {
                for (int j = 0; j < jn; j++)
                {
                    float* sr = src + ((j0 + j) * stride) + c0;
                    float* dc = dst + (c0 * ld) + j0 + j;
                    for (int c = 0; c < Lanes; c++)
                    {
                        dc[c * ld] = sr[c];
                    }
                }
            }
        }
    }

    private static int Column(int key, ReadOnlySpan<int> spans, ReadOnlySpan<int> offsets, int spanCount)
    {
        for (int i = 0; i < spanCount; i++)
        {
            if (key >= spans[2 * i] && key < spans[(2 * i) + 1])
            {
                return offsets[i] + key - spans[2 * i];
            }
        }

        throw new InvalidOperationException($"Key {key} lies outside the tile's spans.");
    }

    /// <summary>
    /// C[rows, cols] (+)= A·B with A(i, kk) = a[i·<paramref name="aRow"/> + kk·<paramref name="aK"/>] (so A or Aᵀ of a
    /// row-major block), B row-major [depth, ldb]. rows % 4 == 0, cols % 16 == 0. Register tiles of 4 rows × 64, 32 or 16 columns.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Product(float* a, nint aRow, nint aK, int depth, float* b, nint ldb, float* c, nint ldc, int rows, int cols, bool accumulate)
    {
        for (int i = 0; i < rows; i += 4)
        {
            int j = 0;
            for (; j + 64 <= cols; j += 64)
            {
                Tile4x64(a + (i * aRow), aRow, aK, depth, b + j, ldb, c + (i * ldc) + j, ldc, accumulate);
            }

            switch (cols - j)
            {
                case 48:
                    Tile4x32(a + (i * aRow), aRow, aK, depth, b + j, ldb, c + (i * ldc) + j, ldc, accumulate);
                    Tile4x16(a + (i * aRow), aRow, aK, depth, b + j + 32, ldb, c + (i * ldc) + j + 32, ldc, accumulate);
                    break;
                case 32:
                    Tile4x32(a + (i * aRow), aRow, aK, depth, b + j, ldb, c + (i * ldc) + j, ldc, accumulate);
                    break;
                case 16:
                    Tile4x16(a + (i * aRow), aRow, aK, depth, b + j, ldb, c + (i * ldc) + j, ldc, accumulate);
                    break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x64(float* a, nint aRow, nint aK, int depth, float* b, nint ldb, float* c, nint ldc, bool accumulate)
    {
        Vector512<float> c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33;
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        if (accumulate)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16); c02 = Vector512.Load(c + 32); c03 = Vector512.Load(c + 48);
            c10 = Vector512.Load(c1); c11 = Vector512.Load(c1 + 16); c12 = Vector512.Load(c1 + 32); c13 = Vector512.Load(c1 + 48);
            c20 = Vector512.Load(c2); c21 = Vector512.Load(c2 + 16); c22 = Vector512.Load(c2 + 32); c23 = Vector512.Load(c2 + 48);
            c30 = Vector512.Load(c3); c31 = Vector512.Load(c3 + 16); c32 = Vector512.Load(c3 + 32); c33 = Vector512.Load(c3 + 48);
        }
        else
        {
            c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = Vector512<float>.Zero;
        }

        nint r1 = aRow, r2 = 2 * aRow, r3 = 3 * aRow;
        for (int kk = 0; kk < depth; kk++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var b2 = Vector512.Load(b + 32);
            var b3 = Vector512.Load(b + 48);
            var x = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            c02 = Vector512.FusedMultiplyAdd(x, b2, c02);
            c03 = Vector512.FusedMultiplyAdd(x, b3, c03);
            x = Vector512.Create(a[r1]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            c12 = Vector512.FusedMultiplyAdd(x, b2, c12);
            c13 = Vector512.FusedMultiplyAdd(x, b3, c13);
            x = Vector512.Create(a[r2]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            c22 = Vector512.FusedMultiplyAdd(x, b2, c22);
            c23 = Vector512.FusedMultiplyAdd(x, b3, c23);
            x = Vector512.Create(a[r3]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            c32 = Vector512.FusedMultiplyAdd(x, b2, c32);
            c33 = Vector512.FusedMultiplyAdd(x, b3, c33);
            a += aK;
            b += ldb;
        }

        c00.Store(c); c01.Store(c + 16); c02.Store(c + 32); c03.Store(c + 48);
        c10.Store(c1); c11.Store(c1 + 16); c12.Store(c1 + 32); c13.Store(c1 + 48);
        c20.Store(c2); c21.Store(c2 + 16); c22.Store(c2 + 32); c23.Store(c2 + 48);
        c30.Store(c3); c31.Store(c3 + 16); c32.Store(c3 + 32); c33.Store(c3 + 48);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x32(float* a, nint aRow, nint aK, int depth, float* b, nint ldb, float* c, nint ldc, bool accumulate)
    {
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31;
        float* p1 = c + ldc, p2 = p1 + ldc, p3 = p2 + ldc;
        if (accumulate)
        {
            c00 = Vector512.Load(c); c01 = Vector512.Load(c + 16);
            c10 = Vector512.Load(p1); c11 = Vector512.Load(p1 + 16);
            c20 = Vector512.Load(p2); c21 = Vector512.Load(p2 + 16);
            c30 = Vector512.Load(p3); c31 = Vector512.Load(p3 + 16);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = Vector512<float>.Zero;
        }

        nint r1 = aRow, r2 = 2 * aRow, r3 = 3 * aRow;
        for (int kk = 0; kk < depth; kk++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[r1]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[r2]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[r3]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            a += aK;
            b += ldb;
        }

        c00.Store(c); c01.Store(c + 16);
        c10.Store(p1); c11.Store(p1 + 16);
        c20.Store(p2); c21.Store(p2 + 16);
        c30.Store(p3); c31.Store(p3 + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4x16(float* a, nint aRow, nint aK, int depth, float* b, nint ldb, float* c, nint ldc, bool accumulate)
    {
        Vector512<float> c0, c1, c2, c3;
        float* p1 = c + ldc, p2 = p1 + ldc, p3 = p2 + ldc;
        if (accumulate)
        {
            c0 = Vector512.Load(c);
            c1 = Vector512.Load(p1);
            c2 = Vector512.Load(p2);
            c3 = Vector512.Load(p3);
        }
        else
        {
            c0 = c1 = c2 = c3 = Vector512<float>.Zero;
        }

        nint r1 = aRow, r2 = 2 * aRow, r3 = 3 * aRow;
        for (int kk = 0; kk < depth; kk++)
        {
            var b0 = Vector512.Load(b);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a[0]), b0, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r1]), b0, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r2]), b0, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a[r3]), b0, c3);
            a += aK;
            b += ldb;
        }

        c0.Store(c);
        c1.Store(p1);
        c2.Store(p2);
        c3.Store(p3);
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    private static float* Align(float* p)
    {
        nint misalign = (nint)p & 63;
        return misalign == 0 ? p : (float*)((byte*)p + (64 - misalign));
    }

    private static float[] BlockedBuffer(int size)
    {
        var b = _blockedBuffer;
        if (b is null || b.Length < size)
        {
            b = GC.AllocateUninitializedArray<float>(Math.Max(size, (b?.Length ?? 0) * 5 / 4), pinned: true);
            _blockedBuffer = b;
        }

        return b;
    }
}
