using System.Numerics.Tensors;

namespace EsoLM.Tensors;

/// <summary>Blocked attention: query blocks against packed key/value spans through the GEMM micro-kernels.</summary>
internal static unsafe partial class Attention
{
    /// <summary>Query counts from which the blocked path is used (below: one query at a time).</summary>
    internal const int BlockedMinQueries = 4;

    /// <summary>
    /// Packs the visible keys and values once, then for each block of MR queries computes S = Q·Kᵀ over the block's
    /// (at most two) key spans with the GEMM tile kernel, applies the masked softmax row by row on the visible
    /// intervals only, and computes O = P·V with the tile kernel again.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void Blocked(SimdLevel simd, float* q, int queryStride, int queryCount, float* keys, float* values,
        int d, ReadOnlySpan<KeyRange> visible, float* output, int outputStride, float scale)
    {
        const int nr = GemmKernels.NR;
        int mr = GemmKernels.MicroRows(simd);
        int kLo = int.MaxValue, kHi = 0;
        for (int r = 0; r < queryCount; r++)
        {
            var vr = visible[r];
            if (vr.End0 > vr.Start0)
            {
                kLo = Math.Min(kLo, vr.Start0);
                kHi = Math.Max(kHi, vr.End0);
            }

            if (vr.End1 > vr.Start1)
            {
                kLo = Math.Min(kLo, vr.Start1);
                kHi = Math.Max(kHi, vr.End1);
            }
        }

        if (kHi == 0)
        {
            return; // Outputs were cleared by the caller.
        }

        int nk = kHi - kLo;
        int nkPad = RoundUp(nk, nr);
        int dPad = RoundUp(d, nr);
        float* kp = Scratch.Get(Scratch.AttnKeys, nkPad * d);
        GemmKernels.PackPanels(keys + ((nint)kLo * d), d, 1, nk, d, kp);
        float* vp = Scratch.Get(Scratch.AttnValues, dPad * nkPad);
        for (int jp = 0; jp < dPad / nr; jp++)
        {
            float* panel = vp + ((nint)jp * nkPad * nr);
            GemmKernels.PackPanels(values + ((nint)kLo * d) + (jp * nr), 1, d, Math.Min(nr, d - (jp * nr)), nk, panel);
            new Span<float>(panel + ((nint)nk * nr), (nkPad - nk) * nr).Clear();
        }

        float* ab = Scratch.Get(Scratch.AttnPack, mr * Math.Max(nkPad, d));
        float* s = Scratch.Get(Scratch.Scores, mr * nkPad);
        float* ob = Scratch.Get(Scratch.AttnOut, mr * dPad);
        Span<int> spans = stackalloc int[4];
        Span<int> intervals = stackalloc int[8];
        Span<float> inverse = stackalloc float[mr];
        for (int r0 = 0; r0 < queryCount; r0 += mr)
        {
            int rows = Math.Min(mr, queryCount - r0);
            int a0 = int.MaxValue, a1 = -1, b0 = int.MaxValue, b1 = -1;
            for (int r = 0; r < rows; r++)
            {
                var vr = visible[r0 + r];
                if (vr.End0 > vr.Start0)
                {
                    a0 = Math.Min(a0, vr.Start0 - kLo);
                    a1 = Math.Max(a1, vr.End0 - kLo);
                }

                if (vr.End1 > vr.Start1)
                {
                    b0 = Math.Min(b0, vr.Start1 - kLo);
                    b1 = Math.Max(b1, vr.End1 - kLo);
                }
            }

            int spanCount = 0;
            if (a1 >= 0)
            {
                spans[0] = a0 / nr * nr;
                spans[1] = RoundUp(a1, nr);
                spanCount = 1;
            }

            if (b1 >= 0)
            {
                int s0 = b0 / nr * nr, s1 = RoundUp(b1, nr);
                if (spanCount == 1 && s0 < spans[1] && spans[0] < s1)
                {
                    spans[0] = Math.Min(spans[0], s0);
                    spans[1] = Math.Max(spans[1], s1);
                }
                else if (spanCount == 1 && s1 <= spans[0])
                {
                    spans[2] = spans[0];
                    spans[3] = spans[1];
                    spans[0] = s0;
                    spans[1] = s1;
                    spanCount = 2;
                }
                else
                {
                    spans[2 * spanCount] = s0;
                    spans[(2 * spanCount) + 1] = s1;
                    spanCount++;
                }
            }

            if (spanCount == 0)
            {
                continue; // Every query of the block sees nothing: outputs stay zero.
            }

            int ncols = 0;
            for (int i = 0; i < spanCount; i++)
            {
                ncols += spans[(2 * i) + 1] - spans[2 * i];
            }

            // S = Q·Kᵀ over the spans.
            GemmKernels.PackA(q, queryStride, 1, r0, rows, 0, d, mr, ab);
            int col = 0;
            for (int i = 0; i < spanCount; i++)
            {
                for (int c = spans[2 * i]; c < spans[(2 * i) + 1]; c += nr)
                {
                    GemmKernels.RunTile(simd, d, mr, ab, kp + ((nint)(c / nr) * d * nr), s + col + (c - spans[2 * i]), ncols, null, false);
                }

                col += spans[(2 * i) + 1] - spans[2 * i];
            }

            // Masked softmax on the visible intervals of each row; everything else becomes 0.
            for (int r = 0; r < rows; r++)
            {
                var vr = visible[r0 + r];
                int count = 0;
                col = 0;
                for (int i = 0; i < spanCount; i++)
                {
                    int st = spans[2 * i], en = spans[(2 * i) + 1];
                    count = AddInterval(intervals, count, vr.Start0 - kLo, vr.End0 - kLo, st, en, col);
                    count = AddInterval(intervals, count, vr.Start1 - kLo, vr.End1 - kLo, st, en, col);
                    col += en - st;
                }

                var row = new Span<float>(s + ((nint)r * ncols), ncols);
                if (count == 0)
                {
                    row.Clear();
                    inverse[r] = 0;
                    continue;
                }

                SortIntervals(intervals, count);
                float max = float.NegativeInfinity;
                for (int i = 0; i < count; i++)
                {
                    var sub = row[intervals[2 * i]..intervals[(2 * i) + 1]];
                    TensorPrimitives.Multiply(sub, scale, sub);
                    max = MathF.Max(max, TensorPrimitives.Max<float>(sub));
                }

                double sum = 0;
                int previous = 0;
                for (int i = 0; i < count; i++)
                {
                    var sub = row[intervals[2 * i]..intervals[(2 * i) + 1]];
                    TensorPrimitives.Subtract(sub, max, sub);
                    TensorPrimitives.Exp(sub, sub);
                    sum += TensorPrimitives.Sum<float>(sub);
                    row[previous..intervals[2 * i]].Clear();
                    previous = intervals[(2 * i) + 1];
                }

                row[previous..].Clear();
                inverse[r] = (float)(1.0 / sum);
            }

            // O = P·V over the same spans.
            GemmKernels.PackA(s, ncols, 1, 0, rows, 0, ncols, mr, ab);
            for (int jp = 0; jp < dPad / nr; jp++)
            {
                col = 0;
                for (int i = 0; i < spanCount; i++)
                {
                    int st = spans[2 * i], en = spans[(2 * i) + 1];
                    GemmKernels.RunTile(simd, en - st, mr, ab + ((nint)col * mr), vp + ((nint)jp * nkPad * nr) + ((nint)st * nr),
                        ob + (jp * nr), dPad, null, i > 0);
                    col += en - st;
                }
            }

            for (int r = 0; r < rows; r++)
            {
                if (inverse[r] != 0)
                {
                    TensorPrimitives.Multiply(new ReadOnlySpan<float>(ob + ((nint)r * dPad), d), inverse[r],
                        new Span<float>(output + ((nint)(r0 + r) * outputStride), d));
                }
            }
        }
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    private static int AddInterval(Span<int> intervals, int count, int x0, int x1, int spanStart, int spanEnd, int columnOffset)
    {
        int lo = Math.Max(x0, spanStart), hi = Math.Min(x1, spanEnd);
        if (lo >= hi)
        {
            return count;
        }

        intervals[2 * count] = columnOffset + lo - spanStart;
        intervals[(2 * count) + 1] = columnOffset + hi - spanStart;
        return count + 1;
    }

    private static void SortIntervals(Span<int> intervals, int count)
    {
        for (int i = 1; i < count; i++)
        {
            int s = intervals[2 * i], e = intervals[(2 * i) + 1], j = i - 1;
            while (j >= 0 && intervals[2 * j] > s)
            {
                intervals[(2 * j) + 2] = intervals[2 * j];
                intervals[(2 * j) + 3] = intervals[(2 * j) + 1];
                j--;
            }

            intervals[(2 * j) + 2] = s;
            intervals[(2 * j) + 3] = e;
        }
    }
}
