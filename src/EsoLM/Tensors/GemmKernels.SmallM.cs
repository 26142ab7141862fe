using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EsoLM.Tensors;

/// <summary>
/// The Vector512 small-M kernels (fewer than 12 rows) for every weight format, and the panel loaders they and the
/// low-precision tiles read packed k-steps with. Each output vector is one chain of FMAs over k in order, starting from
/// the tile's values (C, then the bias), exactly as in the blocked tiles, so a row's result does not depend on how many
/// rows share the product. Independent chains come from the rows and the two column vectors; the weight stream from
/// memory, not the FMA latency, bounds these products.
/// </summary>
internal static unsafe partial class GemmKernels
{
    /// <summary>Loads one k-step (32 outputs) of a packed panel as two fp32 vectors.</summary>
    internal interface IPanelLoader
    {
        /// <summary>Whether the loaded values still need the per-output scales (int8) before they are fp32 weights.</summary>
        static abstract bool Scaled { get; }

        /// <summary>Bytes of one packed k-step (32 outputs) in this format.</summary>
        static abstract int StepBytes { get; }

        /// <summary>Outputs 0–15 and 16–31 of k-step <paramref name="p"/> of the panel at <paramref name="b"/>.</summary>
        static abstract (Vector512<float> Low, Vector512<float> High) Load(void* b, int p);
    }

    /// <summary>fp32 k-steps: two 64-byte loads (the small-M kernels share one code path for every format).</summary>
    internal readonly struct Fp32Loader : IPanelLoader
    {
        public static bool Scaled => false;

        public static int StepBytes => NR * sizeof(float);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector512<float> Low, Vector512<float> High) Load(void* b, int p)
        {
            float* row = (float*)b + (p * NR);
            return (Vector512.Load(row), Vector512.Load(row + 16));
        }
    }

    /// <summary>bf16 k-steps: one 64-byte load, a shift and a mask.</summary>
    internal readonly struct Bf16Loader : IPanelLoader
    {
        public static bool Scaled => false;

        public static int StepBytes => NR * sizeof(ushort);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector512<float> Low, Vector512<float> High) Load(void* b, int p) => LowPrecision.WidenBf16Group((ushort*)b + (p * NR));
    }

    /// <summary>int8 k-steps: two 16-byte sign-extending loads and conversions (the caller multiplies by the scales).</summary>
    internal readonly struct Int8Loader : IPanelLoader
    {
        public static bool Scaled => true;

        public static int StepBytes => NR * sizeof(sbyte);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static (Vector512<float> Low, Vector512<float> High) Load(void* b, int p)
        {
            sbyte* q = (sbyte*)b + (p * NR);
            return (Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q))),
                Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(q + 16))));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SmallRows<TL>(int rows, int k, float* a, void* b, Vector512<float> s0, Vector512<float> s1, float* t)
        where TL : struct, IPanelLoader
    {
        if (rows == 4)
        {
            SmallRows4<TL>(k, a, b, s0, s1, t);
        }
        else if (rows == 2)
        {
            SmallRows2<TL>(k, a, b, s0, s1, t);
        }
        else
        {
            SmallRow1<TL>(k, a, b, s0, s1, t);
        }
    }

    /// <summary>k-step <paramref name="p"/> of a panel as fp32 weights (int8 values times their scales).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector512<float> Low, Vector512<float> High) Weights<TL>(void* b, int p, Vector512<float> s0, Vector512<float> s1)
        where TL : struct, IPanelLoader
    {
        var (w0, w1) = TL.Load(b, p);
        return TL.Scaled ? (w0 * s0, w1 * s1) : (w0, w1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SmallRow1<TL>(int k, float* a, void* b, Vector512<float> scale0, Vector512<float> scale1, float* t)
        where TL : struct, IPanelLoader
    {
        var c0 = Vector512.Load(t);
        var c1 = Vector512.Load(t + 16);
        for (int p = 0; p < k; p++)
        {
            var (b0, b1) = Weights<TL>(b, p, scale0, scale1);
            var x = Vector512.Create(a[p]);
            c0 = Vector512.FusedMultiplyAdd(x, b0, c0);
            c1 = Vector512.FusedMultiplyAdd(x, b1, c1);
        }

        c0.Store(t);
        c1.Store(t + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SmallRows2<TL>(int k, float* a, void* b, Vector512<float> scale0, Vector512<float> scale1, float* t)
        where TL : struct, IPanelLoader
    {
        float* a1 = a + k;
        var c0 = Vector512.Load(t);
        var c1 = Vector512.Load(t + 16);
        var c2 = Vector512.Load(t + NR);
        var c3 = Vector512.Load(t + NR + 16);
        for (int p = 0; p < k; p++)
        {
            var (b0, b1) = Weights<TL>(b, p, scale0, scale1);
            var x = Vector512.Create(a[p]);
            c0 = Vector512.FusedMultiplyAdd(x, b0, c0);
            c1 = Vector512.FusedMultiplyAdd(x, b1, c1);
            x = Vector512.Create(a1[p]);
            c2 = Vector512.FusedMultiplyAdd(x, b0, c2);
            c3 = Vector512.FusedMultiplyAdd(x, b1, c3);
        }

        c0.Store(t);
        c1.Store(t + 16);
        c2.Store(t + NR);
        c3.Store(t + NR + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SmallRows4<TL>(int k, float* a, void* b, Vector512<float> scale0, Vector512<float> scale1, float* t)
        where TL : struct, IPanelLoader
    {
        float* a1 = a + k, a2 = a1 + k, a3 = a2 + k;
        var c0 = Vector512.Load(t);
        var c1 = Vector512.Load(t + 16);
        var c2 = Vector512.Load(t + NR);
        var c3 = Vector512.Load(t + NR + 16);
        var c4 = Vector512.Load(t + (2 * NR));
        var c5 = Vector512.Load(t + (2 * NR) + 16);
        var c6 = Vector512.Load(t + (3 * NR));
        var c7 = Vector512.Load(t + (3 * NR) + 16);
        for (int p = 0; p < k; p++)
        {
            var (b0, b1) = Weights<TL>(b, p, scale0, scale1);
            var x = Vector512.Create(a[p]);
            c0 = Vector512.FusedMultiplyAdd(x, b0, c0);
            c1 = Vector512.FusedMultiplyAdd(x, b1, c1);
            x = Vector512.Create(a1[p]);
            c2 = Vector512.FusedMultiplyAdd(x, b0, c2);
            c3 = Vector512.FusedMultiplyAdd(x, b1, c3);
            x = Vector512.Create(a2[p]);
            c4 = Vector512.FusedMultiplyAdd(x, b0, c4);
            c5 = Vector512.FusedMultiplyAdd(x, b1, c5);
            x = Vector512.Create(a3[p]);
            c6 = Vector512.FusedMultiplyAdd(x, b0, c6);
            c7 = Vector512.FusedMultiplyAdd(x, b1, c7);
        }

        c0.Store(t);
        c1.Store(t + 16);
        c2.Store(t + NR);
        c3.Store(t + NR + 16);
        c4.Store(t + (2 * NR));
        c5.Store(t + (2 * NR) + 16);
        c6.Store(t + (3 * NR));
        c7.Store(t + (3 * NR) + 16);
    }
}
