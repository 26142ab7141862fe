using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EsoLM.Tensors;

/// <summary>
/// Products against <see cref="WeightFormat.Int8A16"/> weights: int8 weights times 16-bit fixed-point activations, summed
/// exactly in int32 (<c>vpmaddwd</c>: 32 multiply-adds per instruction, against 16 for an fp32 FMA), then scaled once.
/// <para>Definition, for each row m and output n (every path computes exactly this, so the bits never depend on the
/// thread count, the tile or the rows beside a row):</para>
/// <list type="number">
/// <item>a = max |A[m, ·]|; the row's limit L = <see cref="ActivationLimit"/>(K); inv = L / a (fp32); q[p] = round-to-even
/// (A[m, p]·inv) clamped to [−L, L]; the row scale s = a / L (fp32). An all-zero row has q = 0 and s = 0; a row holding a
/// NaN or an infinity has q = 0 and s = NaN, so all its outputs are NaN.</item>
/// <item>acc = Σ_p q[p]·w[n, p] in int32 (exact: L is chosen so that K·127·L fits).</item>
/// <item>y = (float)acc · (s · scale[n]) (two fp32 roundings), then y + bias[n], then C + y when accumulating.</item>
/// </list>
/// </summary>
internal static unsafe partial class GemmKernels
{
    /// <summary>Row groups of the packed activations: 8 rows, interleaved per k-pair.</summary>
    private const int IntGroup = 8;

    /// <summary>
    /// Rows of one task's block: its quantized activations (64 rows × K 16-bit values, 48–192 KB for K = 384–1536) stay in
    /// L2 while the task streams its panels, so large products (a diffusion pass over every position) do not re-read all
    /// of A for every panel.
    /// </summary>
    private const int IntBlockRows = 64;

    /// <summary>Inputs (rows × K) from which the quantization runs on every thread instead of the calling one.</summary>
    private const int ParallelQuantizeInputs = 1 << 16;

    /// <summary>
    /// The largest activation magnitude of a K-deep product: 32767, or less where K·127·L would overflow int32
    /// (K = 1536 gives 11008, still 13 bits and more below the int8 weights' own rounding).
    /// </summary>
    internal static int ActivationLimit(int k) => (int)Math.Min(32767L, int.MaxValue / (127L * PairDepth(k) * 2));

    /// <summary>
    /// The deepest product <see cref="WeightFormat.Int8A16"/> packs: beyond it the activation limit falls below 256 (8 bits,
    /// no finer than the int8 weights), and at K ≈ 17 million it would reach 0.
    /// </summary>
    internal const int MaxInt8A16Depth = 66_052;

    /// <summary>Number of k-pairs of a K-deep product (K rounded up to even, halved).</summary>
    internal static int PairDepth(int k) => (k + 1) / 2;

    /// <summary>Arguments of the integer product tasks.</summary>
    private struct IntArgs
    {
        public int* Act;
        public float* RowScales;
        public sbyte* Weights;
        public float* Scales;
        public float* C;
        public float* Bias;
        public int M;
        public int N;
        public int Pairs;
        public int Panels;
        public int PanelsPerTask;
        public int PanelChunks;
        public bool Accumulate;
        public SimdLevel Simd;
    }

    /// <summary>Arguments of the parallel quantization (one task per group of 8 rows).</summary>
    private struct QuantizeArgs
    {
        public float* A;
        public int M;
        public int K;
        public int* Act;
        public float* RowScales;
        public bool Vector;
    }

    /// <summary>
    /// C[m, n] = A[m, k]·Wᵀ (+ bias) (+ C) with W in <see cref="WeightFormat.Int8A16"/> (panels of k-pairs, see
    /// <see cref="PackedMatrix"/>): quantizes A's rows (on the calling thread, or on every thread for large inputs), then
    /// runs tasks of up to 64 rows × a chunk of panels on up to <paramref name="threads"/> threads. <paramref name="simd"/>
    /// picks the tiles: Vector512 (AVX-512 BW: 8 rows × two 16-output vectors), Vector256 (AVX2: 2 rows × four 8-output
    /// vectors) or scalar loops; all give the same bits.
    /// </summary>
    internal static void MultiplyInt8A16(int threads, float* a, sbyte* weights, float* scales, float* c, float* bias, int m, int n, int k,
        bool accumulate, SimdLevel simd)
    {
        simd = simd == SimdLevel.Vector512 && Avx512BW.IsSupported ? SimdLevel.Vector512
            : simd is SimdLevel.Vector512 or SimdLevel.Vector256 && Avx2.IsSupported ? SimdLevel.Vector256
            : SimdLevel.Scalar;
        bool vector = simd == SimdLevel.Vector512;
        int pairs = PairDepth(k);
        int groups = (m + IntGroup - 1) / IntGroup;
        int panels = (n + NR - 1) / NR;
        float* scratch = Scratch.Get(Scratch.IntActivations, (groups * IntGroup * pairs) + (groups * IntGroup) + 16);
        int* act = (int*)scratch;
        float* rowScales = scratch + ((nint)groups * IntGroup * pairs);
        if (threads > 1 && groups > 1 && (long)m * k >= ParallelQuantizeInputs)
        {
            var q = new QuantizeArgs { A = a, M = m, K = k, Act = act, RowScales = rowScales, Vector = vector };
            WorkerPool.Run(threads, groups, &QuantizeTask, &q);
        }
        else
        {
            QuantizeActivations(a, m, k, act, rowScales, vector);
        }

        // Enough tasks for dynamic balancing; split N only as far as the row blocks alone do not give them.
        int mBlocks = (m + IntBlockRows - 1) / IntBlockRows;
        int chunks = threads > 1 ? Math.Clamp(((threads * 8) + mBlocks - 1) / mBlocks, 1, panels) : 1;
        int perTask = (panels + chunks - 1) / chunks;
        chunks = (panels + perTask - 1) / perTask;
        var args = new IntArgs
        {
            Act = act,
            RowScales = rowScales,
            Weights = weights,
            Scales = scales,
            C = c,
            Bias = bias,
            M = m,
            N = n,
            Pairs = pairs,
            Panels = panels,
            PanelsPerTask = perTask,
            PanelChunks = chunks,
            Accumulate = accumulate,
            Simd = simd,
        };
        WorkerPool.Run(threads, mBlocks * chunks, &IntTask, &args);
    }

    private static void QuantizeTask(void* argsPointer, int group)
    {
        ref QuantizeArgs q = ref Unsafe.AsRef<QuantizeArgs>(argsPointer);
        int first = group * IntGroup;
        int rows = Math.Min(IntGroup, q.M - first);
        int pairs = PairDepth(q.K);
        QuantizeGroup(q.A + ((nint)first * q.K), rows, q.K, q.Act + ((nint)group * pairs * IntGroup), q.RowScales + first, q.Vector);
    }

    /// <summary>
    /// Step 1 of the definition for every row, written as int32 words (two 16-bit values: k = 2p in the low half, 2p + 1 in
    /// the high half) interleaved per group of 8 rows: word (g, p, r) at ((g·pairs) + p)·8 + r. Rows past m are zero.
    /// </summary>
    internal static void QuantizeActivations(float* a, int m, int k, int* act, float* rowScales, bool vector)
    {
        int pairs = PairDepth(k);
        for (int first = 0; first < m; first += IntGroup)
        {
            QuantizeGroup(a + ((nint)first * k), Math.Min(IntGroup, m - first), k, act + ((nint)(first / IntGroup) * pairs * IntGroup), rowScales + first,
                vector);
        }
    }

    /// <summary>Quantizes <paramref name="rows"/> (≤ 8) rows into one interleaved group; the group's other rows are zero.</summary>
    private static void QuantizeGroup(float* a, int rows, int k, int* act, float* rowScales, bool vector)
    {
        int pairs = PairDepth(k);
        int limit = ActivationLimit(k);
        for (int r = 0; r < IntGroup; r++)
        {
            int* dst = act + r;
            float* row = a + ((nint)r * k);
            float max = r < rows ? MathF.Abs(System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(new ReadOnlySpan<float>(row, k))) : 0f;
            if (!float.IsFinite(max) || max == 0)
            {
                // Padding rows and all-zero rows: q = 0, scale 0; a NaN or an infinity: q = 0, scale NaN (NaN outputs).
                for (int p = 0; p < pairs; p++)
                {
                    dst[p * IntGroup] = 0;
                }

                rowScales[r] = max == 0 ? 0f : float.NaN;
                continue;
            }

            float inv = limit / max;
            rowScales[r] = max / limit;
            int p0 = 0;
            if (vector && Vector512.IsHardwareAccelerated)
            {
                var vinv = Vector512.Create(inv);
                var hi = Vector512.Create(limit);
                var lo = Vector512.Create(-limit);
                for (; (2 * p0) + 16 <= k; p0 += 8)
                {
                    var q = Vector512.ConvertToInt32(Vector512.Round(Vector512.Load(row + (2 * p0)) * vinv));
                    q = Vector512.Min(Vector512.Max(q, lo), hi);
                    var packed = Avx512F.ConvertToVector256Int16(q).AsInt32();
                    for (int j = 0; j < 8; j++)
                    {
                        dst[(p0 + j) * IntGroup] = packed.GetElement(j);
                    }
                }
            }

            for (int p = p0; p < pairs; p++)
            {
                int q0 = Quantize(row[2 * p], inv, limit);
                int q1 = (2 * p) + 1 < k ? Quantize(row[(2 * p) + 1], inv, limit) : 0;
                dst[p * IntGroup] = (q0 & 0xFFFF) | (q1 << 16);
            }
        }

        static int Quantize(float x, float inv, int limit) => (int)Math.Clamp(MathF.Round(x * inv, MidpointRounding.ToEven), -limit, limit);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void IntTask(void* argsPointer, int task)
    {
        ref IntArgs g = ref Unsafe.AsRef<IntArgs>(argsPointer);
        int ib = task / g.PanelChunks, jb = task % g.PanelChunks;
        int iEnd = Math.Min(g.M, (ib + 1) * IntBlockRows);
        int jpEnd = Math.Min(g.Panels, (jb + 1) * g.PanelsPerTask);
        int pairs = g.Pairs;
        int* acc = stackalloc int[IntGroup * NR];
        for (int jp = jb * g.PanelsPerTask; jp < jpEnd; jp++)
        {
            sbyte* panel = g.Weights + ((nint)jp * pairs * 2 * NR);
            int j0 = jp * NR;
            int nr = Math.Min(NR, g.N - j0);
            for (int i = ib * IntBlockRows; i < iEnd; i += IntGroup)
            {
                int rows = Math.Min(IntGroup, iEnd - i);
                int* ap = g.Act + ((nint)(i / IntGroup) * pairs * IntGroup);
                if (g.Simd == SimdLevel.Vector512)
                {
                    switch (rows)
                    {
                        case > 4:
                            IntTile<Rows8>(pairs, ap, panel, acc);
                            break;
                        case > 2:
                            IntTile<Rows4>(pairs, ap, panel, acc);
                            break;
                        case 2:
                            IntTile<Rows2>(pairs, ap, panel, acc);
                            break;
                        default:
                            IntTile<Rows1>(pairs, ap, panel, acc);
                            break;
                    }
                }
                else if (g.Simd == SimdLevel.Vector256)
                {
                    for (int r = 0; r < rows; r += 2)
                    {
                        if (rows - r >= 2)
                        {
                            IntTile256<Rows2>(pairs, ap + r, panel, acc + (r * NR));
                        }
                        else
                        {
                            IntTile256<Rows1>(pairs, ap + r, panel, acc + (r * NR));
                        }
                    }
                }
                else
                {
                    IntTileScalar(pairs, rows, ap, panel, acc);
                }

                IntFinish(g, acc, i, rows, j0, nr);
            }
        }
    }

    /// <summary>Step 3 of the definition for one tile: scale, bias, accumulate.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void IntFinish(in IntArgs g, int* acc, int i, int rows, int j0, int nr)
    {
        float* sw = g.Scales + j0;
        for (int r = 0; r < rows; r++)
        {
            float sa = g.RowScales[i + r];
            float* cr = g.C + ((nint)(i + r) * g.N) + j0;
            int* ar = acc + (r * NR);
            if (g.Simd == SimdLevel.Vector512 && nr == NR)
            {
                var vs = Vector512.Create(sa);
                var y0 = Vector512.ConvertToSingle(Vector512.Load(ar)) * (vs * Vector512.Load(sw));
                var y1 = Vector512.ConvertToSingle(Vector512.Load(ar + 16)) * (vs * Vector512.Load(sw + 16));
                if (g.Bias != null)
                {
                    y0 += Vector512.Load(g.Bias + j0);
                    y1 += Vector512.Load(g.Bias + j0 + 16);
                }

                if (g.Accumulate)
                {
                    y0 = Vector512.Load(cr) + y0;
                    y1 = Vector512.Load(cr + 16) + y1;
                }

                y0.Store(cr);
                y1.Store(cr + 16);
                continue;
            }

            for (int j = 0; j < nr; j++)
            {
                float y = ar[j] * (sa * sw[j]);
                if (g.Bias != null)
                {
                    y += g.Bias[j0 + j];
                }

                cr[j] = g.Accumulate ? cr[j] + y : y;
            }
        }
    }

    /// <summary>The exact integer sums of one tile, one multiply-add at a time (the plain path, and CPUs without AVX-512 BW).</summary>
    internal static void IntTileScalar(int pairs, int rows, int* a, sbyte* panel, int* acc)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < NR; c++)
            {
                int offset = Int8A16Offset(c, 0);
                int sum = 0;
                for (int p = 0; p < pairs; p++)
                {
                    int word = a[(p * IntGroup) + r];
                    sbyte* w = panel + ((nint)p * 2 * NR) + offset;
                    sum += ((short)word * w[0]) + ((word >> 16) * w[1]);
                }

                acc[(r * NR) + c] = sum;
            }
        }
    }

    /// <summary>
    /// Byte offset of weight (output c of the panel, k = 2p + parity) inside k-pair p of an <see cref="WeightFormat.Int8A16"/>
    /// panel: outputs 0–15 fill the first 32 bytes and 16–31 the next, each output's two k values side by side, so one
    /// sign-extending load gives the 16-bit pairs <c>vpmaddwd</c> multiplies with an activation word.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int Int8A16Offset(int c, int parity) => ((c / 16) * 32) + ((c % 16) * 2) + parity;

    /// <summary>Row counts of the integer tile (1, 2, 4 or 8 of a group's rows).</summary>
    private interface IRowCount
    {
        static abstract int Rows { get; }
    }

    private readonly struct Rows1 : IRowCount
    {
        public static int Rows => 1;
    }

    private readonly struct Rows2 : IRowCount
    {
        public static int Rows => 2;
    }

    private readonly struct Rows4 : IRowCount
    {
        public static int Rows => 4;
    }

    private readonly struct Rows8 : IRowCount
    {
        public static int Rows => 8;
    }

    /// <summary>
    /// The exact integer sums of the first R rows of a group against one panel: per k-pair two sign-extending loads of the
    /// weights, then per row one broadcast activation word and two <c>vpmaddwd</c> + add. Integer sums are exact, so the
    /// order does not matter and the result equals <see cref="IntTileScalar"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void IntTile<TR>(int pairs, int* a, sbyte* b, int* acc)
        where TR : struct, IRowCount
    {
        Vector512<int> c0_0 = default, c0_1 = default, c1_0 = default, c1_1 = default, c2_0 = default, c2_1 = default, c3_0 = default, c3_1 = default;
        Vector512<int> c4_0 = default, c4_1 = default, c5_0 = default, c5_1 = default, c6_0 = default, c6_1 = default, c7_0 = default, c7_1 = default;
        for (int p = 0; p < pairs; p++)
        {
            var w0 = Avx512BW.ConvertToVector512Int16(Vector256.Load(b));
            var w1 = Avx512BW.ConvertToVector512Int16(Vector256.Load(b + 32));
            b += 2 * NR;
            Vector512<short> x = Vector512.Create(a[0]).AsInt16();
            c0_0 += Avx512BW.MultiplyAddAdjacent(x, w0);
            c0_1 += Avx512BW.MultiplyAddAdjacent(x, w1);
            if (TR.Rows > 1)
            {
                x = Vector512.Create(a[1]).AsInt16();
                c1_0 += Avx512BW.MultiplyAddAdjacent(x, w0);
                c1_1 += Avx512BW.MultiplyAddAdjacent(x, w1);
            }

            if (TR.Rows > 2)
            {
                x = Vector512.Create(a[2]).AsInt16();
                c2_0 += Avx512BW.MultiplyAddAdjacent(x, w0);
                c2_1 += Avx512BW.MultiplyAddAdjacent(x, w1);
                x = Vector512.Create(a[3]).AsInt16();
                c3_0 += Avx512BW.MultiplyAddAdjacent(x, w0);
                c3_1 += Avx512BW.MultiplyAddAdjacent(x, w1);
            }

            if (TR.Rows > 4)
            {
                x = Vector512.Create(a[4]).AsInt16();
                c4_0 += Avx512BW.MultiplyAddAdjacent(x, w0);
                c4_1 += Avx512BW.MultiplyAddAdjacent(x, w1);
                x = Vector512.Create(a[5]).AsInt16();
                c5_0 += Avx512BW.MultiplyAddAdjacent(x, w0);
                c5_1 += Avx512BW.MultiplyAddAdjacent(x, w1);
                x = Vector512.Create(a[6]).AsInt16();
                c6_0 += Avx512BW.MultiplyAddAdjacent(x, w0);
                c6_1 += Avx512BW.MultiplyAddAdjacent(x, w1);
                x = Vector512.Create(a[7]).AsInt16();
                c7_0 += Avx512BW.MultiplyAddAdjacent(x, w0);
                c7_1 += Avx512BW.MultiplyAddAdjacent(x, w1);
            }

            a += IntGroup;
        }

        c0_0.Store(acc);
        c0_1.Store(acc + 16);
        if (TR.Rows > 1)
        {
            c1_0.Store(acc + NR);
            c1_1.Store(acc + NR + 16);
        }

        if (TR.Rows > 2)
        {
            c2_0.Store(acc + (2 * NR));
            c2_1.Store(acc + (2 * NR) + 16);
            c3_0.Store(acc + (3 * NR));
            c3_1.Store(acc + (3 * NR) + 16);
        }

        if (TR.Rows > 4)
        {
            c4_0.Store(acc + (4 * NR));
            c4_1.Store(acc + (4 * NR) + 16);
            c5_0.Store(acc + (5 * NR));
            c5_1.Store(acc + (5 * NR) + 16);
            c6_0.Store(acc + (6 * NR));
            c6_1.Store(acc + (6 * NR) + 16);
            c7_0.Store(acc + (7 * NR));
            c7_1.Store(acc + (7 * NR) + 16);
        }
    }

    /// <summary>
    /// The AVX2 tile: rows <paramref name="a"/>[0] (and [1]) of a group against one panel, four 8-output vectors per row
    /// (one sign-extending 16-byte load each: the panel layout's quarters), <c>vpmaddwd</c> + add. Same sums as
    /// <see cref="IntTile{TR}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void IntTile256<TR>(int pairs, int* a, sbyte* b, int* acc)
        where TR : struct, IRowCount
    {
        Vector256<int> c0_0 = default, c0_1 = default, c0_2 = default, c0_3 = default, c1_0 = default, c1_1 = default, c1_2 = default, c1_3 = default;
        for (int p = 0; p < pairs; p++)
        {
            var w0 = Avx2.ConvertToVector256Int16(Vector128.Load(b));
            var w1 = Avx2.ConvertToVector256Int16(Vector128.Load(b + 16));
            var w2 = Avx2.ConvertToVector256Int16(Vector128.Load(b + 32));
            var w3 = Avx2.ConvertToVector256Int16(Vector128.Load(b + 48));
            b += 2 * NR;
            var x = Vector256.Create(a[0]).AsInt16();
            c0_0 += Avx2.MultiplyAddAdjacent(x, w0);
            c0_1 += Avx2.MultiplyAddAdjacent(x, w1);
            c0_2 += Avx2.MultiplyAddAdjacent(x, w2);
            c0_3 += Avx2.MultiplyAddAdjacent(x, w3);
            if (TR.Rows > 1)
            {
                x = Vector256.Create(a[1]).AsInt16();
                c1_0 += Avx2.MultiplyAddAdjacent(x, w0);
                c1_1 += Avx2.MultiplyAddAdjacent(x, w1);
                c1_2 += Avx2.MultiplyAddAdjacent(x, w2);
                c1_3 += Avx2.MultiplyAddAdjacent(x, w3);
            }

            a += IntGroup;
        }

        c0_0.Store(acc);
        c0_1.Store(acc + 8);
        c0_2.Store(acc + 16);
        c0_3.Store(acc + 24);
        if (TR.Rows > 1)
        {
            c1_0.Store(acc + NR);
            c1_1.Store(acc + NR + 8);
            c1_2.Store(acc + NR + 16);
            c1_3.Store(acc + NR + 24);
        }
    }
}
