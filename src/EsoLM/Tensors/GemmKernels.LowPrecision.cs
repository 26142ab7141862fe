using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EsoLM.Tensors;

/// <summary>Products against bf16 / int8 packed weights (fp32 accumulation).</summary>
internal static unsafe partial class GemmKernels
{
    /// <summary>A low-precision packed operand: its format, panels and (int8) per-output scales.</summary>
    internal readonly struct LowB(WeightFormat format, void* data, float* scales)
    {
        public WeightFormat Format { get; } = format;

        public void* Data { get; } = data;

        public float* Scales { get; } = scales;
    }

    /// <summary>Whether the fused Vector512 small-M kernels can read this format on this CPU.</summary>
    internal static bool FusedLow(SimdLevel simd, WeightFormat format) =>
        simd == SimdLevel.Vector512 && (format == WeightFormat.BFloat16 || Avx512F.IsSupported);

    /// <summary>
    /// C[m, n] = A[m, k]·Wᵀ (+ bias) (+ C) with W in a low-precision format. Like the fp32 path: whole micro-tile rows
    /// take the blocked path (each KC×32 block widened to fp32 once per task, amortised over its rows) and fewer than
    /// 12 rows the fused streaming kernels, which widen in registers and read each weight byte once per row group.
    /// Whole 8-row tiles (16 or 32 rows) widen each k-step in registers instead (<see cref="LowTile8"/>, bit-identical to
    /// the widened block); <c>fusedTiles: false</c> keeps the widen-into-a-buffer path for comparisons.
    /// </summary>
    internal static void MultiplyLow(int threads, SimdLevel simd, float* a, in LowB b, float* c, float* bias, int m, int n, int k, bool accumulate,
        bool fusedTiles = true)
    {
        System.Diagnostics.Debug.Assert(b.Format is WeightFormat.BFloat16 or WeightFormat.Int8, "int8a16 panels are paired by k: MultiplyInt8A16 reads them.");
        bool fused = FusedLow(simd, b.Format);
        int mr = MicroRows(simd, m);
        int full = fused ? (m < SmallM ? 0 : m / mr * mr) : m;
        if (full > 0)
        {
            Blocked(threads, simd, a, k, 1, null, c, n, bias, full, n, k, accumulate, b, fusedTiles);
        }

        if (full < m)
        {
            Small(threads, simd, a + ((nint)full * k), null, c + ((nint)full * n), bias, m - full, n, k, accumulate, b);
        }
    }

    /// <summary>
    /// Widens rows [p0, p0 + kc) of panel <paramref name="jp"/> of a low-precision operand (depth <paramref name="k"/>)
    /// into fp32 panel layout at <paramref name="dst"/> (int8 values multiplied by their output's scale).
    /// </summary>
    internal static void WidenBlock(in LowB b, int jp, int k, int p0, int kc, float* dst)
    {
        long start = ((long)jp * k * NR) + ((long)p0 * NR);
        if (b.Format == WeightFormat.BFloat16)
        {
            ushort* src = (ushort*)b.Data + start;
            if (Vector512.IsHardwareAccelerated)
            {
                for (int p = 0; p < kc; p++)
                {
                    var (low, high) = LowPrecision.WidenBf16Group(src + (p * NR));
                    low.Store(dst + (p * NR));
                    high.Store(dst + (p * NR) + 16);
                }

                return;
            }

            for (int p = 0; p < kc; p++)
            {
                for (int col = 0; col < NR; col++)
                {
                    dst[(p * NR) + col] = LowPrecision.FromBFloat16(src[(p * NR) + LowPrecision.Bf16Slot(col)]);
                }
            }

            return;
        }

        sbyte* q = (sbyte*)b.Data + start;
        float* s = b.Scales + ((nint)jp * NR);
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            var s0 = Vector512.Load(s);
            var s1 = Vector512.Load(s + 16);
            for (int p = 0; p < kc; p++)
            {
                sbyte* qp = q + (p * NR);
                (Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(qp))) * s0).Store(dst + (p * NR));
                (Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(qp + 16))) * s1).Store(dst + (p * NR) + 16);
            }

            return;
        }

        for (int p = 0; p < kc; p++)
        {
            for (int col = 0; col < NR; col++)
            {
                dst[(p * NR) + col] = q[(p * NR) + col] * s[col];
            }
        }
    }

    /// <summary>
    /// The fused small-M tile for rows [i, i + rows) of one panel (rows = 1, 2 or 4), added onto the tile's starting
    /// values: each weight widened (int8 times its output's scale) and then one FMA per k-step in order, the operations of
    /// <see cref="WidenBlock"/> followed by a blocked tile, so the rows get the same bits as in any larger product.
    /// </summary>
    private static void SmallLowTile(in SmallArgs g, int jp, float* ap, int rows, float* tile)
    {
        int k = g.K;
        if (g.Format == WeightFormat.BFloat16)
        {
            void* bp = (ushort*)g.LowData + ((nint)jp * k * NR);
            SmallRows<Bf16Loader>(rows, k, ap, bp, default, default, tile);
            return;
        }

        void* q = (sbyte*)g.LowData + ((nint)jp * k * NR);
        SmallRows<Int8Loader>(rows, k, ap, q, Vector512.Load(g.Scales + (jp * NR)), Vector512.Load(g.Scales + (jp * NR) + 16), tile);
    }

    /// <summary>
    /// Whether <see cref="LowTile8"/> can take a whole 8×32 tile of this product in place of widening the block into a
    /// buffer first (Vector512, 8-row micro-tiles, a format the fused loaders read on this CPU). bf16 widens with one
    /// shift and one mask, cheap enough to redo for every tile; int8 needs a sign extension, a conversion and a scale
    /// multiply per vector, which pays only while a block has at most two tiles (<paramref name="m"/> ≤ 16): with four
    /// (32 rows) widening the block once into a buffer measured faster.
    /// </summary>
    internal static bool FusedLowTiles(SimdLevel simd, int mr, WeightFormat format, int m) =>
        mr == 8 && format != WeightFormat.Float32 && FusedLow(simd, format) && (format == WeightFormat.BFloat16 || m <= 2 * mr);

    /// <summary>
    /// One 8×32 tile of depth <paramref name="kc"/> against k-steps [<paramref name="p0"/>, p0 + kc) of low-precision panel
    /// <paramref name="jp"/> (depth <paramref name="k"/>), widened in registers: the same operations in the same order as
    /// <see cref="WidenBlock"/> followed by <see cref="Tile512x8"/> (int8 values times their scale, then the FMA), so the
    /// results are bit-identical, without the store and reload of the widened block.
    /// </summary>
    internal static void LowTile8(in LowB b, int jp, int k, int p0, int kc, float* a, float* c, nint ldc, float* bias, bool load, bool prefetch = false)
    {
        long start = ((long)jp * k * NR) + ((long)p0 * NR);
        if (b.Format == WeightFormat.BFloat16)
        {
            LowTile8Core<Bf16Loader>(kc, a, (ushort*)b.Data + start, default, default, c, ldc, bias, load, prefetch);
            return;
        }

        float* s = b.Scales + ((nint)jp * NR);
        LowTile8Core<Int8Loader>(kc, a, (sbyte*)b.Data + start, Vector512.Load(s), Vector512.Load(s + 16), c, ldc, bias, load, prefetch);
    }

    /// <summary>
    /// How far ahead of the k-step being read the first tile of a block prefetches the packed weights, in bytes: one
    /// KC-deep bf16 block, so the next block (the next in memory: panels and their blocks are contiguous) is on its way
    /// from memory while this one is computed.
    /// </summary>
    internal const int PrefetchBytes = KC * NR * sizeof(ushort);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LowTile8Core<TL>(int kc, float* a, void* b, Vector512<float> s0, Vector512<float> s1, float* c, nint ldc, float* bias, bool load,
        bool prefetch)
        where TL : struct, IPanelLoader
    {
        // The first tile of a block prefetches PrefetchBytes ahead, one panel row per k-step; the others touch their own
        // (cached) rows instead, which keeps one loop body.
        int stepBytes = TL.StepBytes;
        byte* ahead = (byte*)b + (prefetch ? PrefetchBytes : 0);

        Vector512<float> c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1, c6_0, c6_1, c7_0, c7_1;
        if (load)
        {
            c0_0 = Vector512.Load(c + (0 * ldc));
            c0_1 = Vector512.Load(c + (0 * ldc) + 16);
            c1_0 = Vector512.Load(c + (1 * ldc));
            c1_1 = Vector512.Load(c + (1 * ldc) + 16);
            c2_0 = Vector512.Load(c + (2 * ldc));
            c2_1 = Vector512.Load(c + (2 * ldc) + 16);
            c3_0 = Vector512.Load(c + (3 * ldc));
            c3_1 = Vector512.Load(c + (3 * ldc) + 16);
            c4_0 = Vector512.Load(c + (4 * ldc));
            c4_1 = Vector512.Load(c + (4 * ldc) + 16);
            c5_0 = Vector512.Load(c + (5 * ldc));
            c5_1 = Vector512.Load(c + (5 * ldc) + 16);
            c6_0 = Vector512.Load(c + (6 * ldc));
            c6_1 = Vector512.Load(c + (6 * ldc) + 16);
            c7_0 = Vector512.Load(c + (7 * ldc));
            c7_1 = Vector512.Load(c + (7 * ldc) + 16);
        }
        else
        {
            c0_0 = Vector512<float>.Zero;
            c0_1 = Vector512<float>.Zero;
            c1_0 = Vector512<float>.Zero;
            c1_1 = Vector512<float>.Zero;
            c2_0 = Vector512<float>.Zero;
            c2_1 = Vector512<float>.Zero;
            c3_0 = Vector512<float>.Zero;
            c3_1 = Vector512<float>.Zero;
            c4_0 = Vector512<float>.Zero;
            c4_1 = Vector512<float>.Zero;
            c5_0 = Vector512<float>.Zero;
            c5_1 = Vector512<float>.Zero;
            c6_0 = Vector512<float>.Zero;
            c6_1 = Vector512<float>.Zero;
            c7_0 = Vector512<float>.Zero;
            c7_1 = Vector512<float>.Zero;
        }

        if (bias != null)
        {
            var bb0 = Vector512.Load(bias);
            var bb1 = Vector512.Load(bias + 16);
            c0_0 += bb0;
            c0_1 += bb1;
            c1_0 += bb0;
            c1_1 += bb1;
            c2_0 += bb0;
            c2_1 += bb1;
            c3_0 += bb0;
            c3_1 += bb1;
            c4_0 += bb0;
            c4_1 += bb1;
            c5_0 += bb0;
            c5_1 += bb1;
            c6_0 += bb0;
            c6_1 += bb1;
            c7_0 += bb0;
            c7_1 += bb1;
        }

        for (int p = 0; p < kc; p++)
        {
            if (Sse.IsSupported)
            {
                Sse.Prefetch1(ahead);
            }

            ahead += stepBytes;
            var (b0, b1) = TL.Load(b, p);
            if (TL.Scaled)
            {
                b0 *= s0;
                b1 *= s1;
            }

            Vector512<float> x;
            x = Vector512.Create(a[0]);
            c0_0 = Vector512.FusedMultiplyAdd(x, b0, c0_0);
            c0_1 = Vector512.FusedMultiplyAdd(x, b1, c0_1);
            x = Vector512.Create(a[1]);
            c1_0 = Vector512.FusedMultiplyAdd(x, b0, c1_0);
            c1_1 = Vector512.FusedMultiplyAdd(x, b1, c1_1);
            x = Vector512.Create(a[2]);
            c2_0 = Vector512.FusedMultiplyAdd(x, b0, c2_0);
            c2_1 = Vector512.FusedMultiplyAdd(x, b1, c2_1);
            x = Vector512.Create(a[3]);
            c3_0 = Vector512.FusedMultiplyAdd(x, b0, c3_0);
            c3_1 = Vector512.FusedMultiplyAdd(x, b1, c3_1);
            x = Vector512.Create(a[4]);
            c4_0 = Vector512.FusedMultiplyAdd(x, b0, c4_0);
            c4_1 = Vector512.FusedMultiplyAdd(x, b1, c4_1);
            x = Vector512.Create(a[5]);
            c5_0 = Vector512.FusedMultiplyAdd(x, b0, c5_0);
            c5_1 = Vector512.FusedMultiplyAdd(x, b1, c5_1);
            x = Vector512.Create(a[6]);
            c6_0 = Vector512.FusedMultiplyAdd(x, b0, c6_0);
            c6_1 = Vector512.FusedMultiplyAdd(x, b1, c6_1);
            x = Vector512.Create(a[7]);
            c7_0 = Vector512.FusedMultiplyAdd(x, b0, c7_0);
            c7_1 = Vector512.FusedMultiplyAdd(x, b1, c7_1);
            a += 8;
        }

        c0_0.Store(c + (0 * ldc));
        c0_1.Store(c + (0 * ldc) + 16);
        c1_0.Store(c + (1 * ldc));
        c1_1.Store(c + (1 * ldc) + 16);
        c2_0.Store(c + (2 * ldc));
        c2_1.Store(c + (2 * ldc) + 16);
        c3_0.Store(c + (3 * ldc));
        c3_1.Store(c + (3 * ldc) + 16);
        c4_0.Store(c + (4 * ldc));
        c4_1.Store(c + (4 * ldc) + 16);
        c5_0.Store(c + (5 * ldc));
        c5_1.Store(c + (5 * ldc) + 16);
        c6_0.Store(c + (6 * ldc));
        c6_1.Store(c + (6 * ldc) + 16);
        c7_0.Store(c + (7 * ldc));
        c7_1.Store(c + (7 * ldc) + 16);
    }
}
