using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EsoLM.Tensors;

/// <summary>Packing routines, small-M kernels and the blocked GEMM driver.</summary>
internal static unsafe partial class GemmKernels
{
    /// <summary>Panel width of packed B (outputs per panel).</summary>
    internal const int NR = 32;

    /// <summary>Depth of one packed block (k steps per micro-kernel call).</summary>
    internal const int KC = 256;

    /// <summary>Micro-panels of A per task block (MC = McPanels·MR rows).</summary>
    internal const int McPanels = 4;

    /// <summary>Rows below which the Vector512 path streams packed B once per row group instead of packing A.</summary>
    internal const int SmallM = 12;

    /// <summary>Micro-tile rows for a SIMD level.</summary>
    internal static int MicroRows(SimdLevel simd) => simd switch
    {
        SimdLevel.Vector512 => 12,
        SimdLevel.Vector256 => 6,
        _ => 4,
    };

    /// <summary>
    /// Micro-tile rows for an m-row product: on Vector512, 8 when that tiles m exactly and 12 does not (16 or 32 rows of
    /// batched decoding), else <see cref="MicroRows(SimdLevel)"/>. Every tile height computes each element with the same
    /// operations in the same order, so the choice never changes a result.
    /// </summary>
    internal static int MicroRows(SimdLevel simd, int m) =>
        simd == SimdLevel.Vector512 && m % 12 != 0 && m % 8 == 0 && m <= MaxSharedA ? 8 : MicroRows(simd);

    /// <summary>Up to this many rows, A is packed once by the caller and shared by every task instead of once per task.</summary>
    internal const int MaxSharedA = 64;

    /// <summary>
    /// Packs op(B) [n, k] (element (j, p) at src[j·rowStride + p·colStride]) into NR-wide k-major panels, zero-padded.
    /// </summary>
    internal static void PackPanels(float* src, nint rowStride, nint colStride, int n, int k, float* dst)
    {
        int panels = (n + NR - 1) / NR;
        for (int jp = 0; jp < panels; jp++)
        {
            float* panel = dst + ((nint)jp * k * NR);
            int j0 = jp * NR;
            int nr = Math.Min(NR, n - j0);
            if (colStride == 1)
            {
                for (int c = 0; c < nr; c++)
                {
                    float* row = src + ((j0 + c) * rowStride);
                    float* d = panel + c;
                    for (int p = 0; p < k; p++)
                    {
                        d[p * NR] = row[p];
                    }
                }

                for (int c = nr; c < NR; c++)
                {
                    for (int p = 0; p < k; p++)
                    {
                        panel[(p * NR) + c] = 0f;
                    }
                }
            }
            else if (rowStride == 1)
            {
                for (int p = 0; p < k; p++)
                {
                    float* s = src + j0 + (p * colStride);
                    float* d = panel + (p * NR);
                    if (nr == NR)
                    {
                        if (Vector512.IsHardwareAccelerated)
                        {
                            Vector512.Store(Vector512.Load(s), d);
                            Vector512.Store(Vector512.Load(s + 16), d + 16);
                        }
                        else
                        {
                            Buffer.MemoryCopy(s, d, NR * sizeof(float), NR * sizeof(float));
                        }
                    }
                    else
                    {
                        int c = 0;
                        for (; c < nr; c++)
                        {
                            d[c] = s[c];
                        }

                        for (; c < NR; c++)
                        {
                            d[c] = 0f;
                        }
                    }
                }
            }
            else
            {
                for (int p = 0; p < k; p++)
                {
                    for (int c = 0; c < NR; c++)
                    {
                        panel[(p * NR) + c] = c < nr ? src[((j0 + c) * rowStride) + (p * colStride)] : 0f;
                    }
                }
            }
        }
    }

    /// <summary>Arguments of a parallel <see cref="PackPanels"/>.</summary>
    internal struct PackArgs
    {
        public float* Source;
        public nint RowStride;
        public nint ColStride;
        public int N;
        public int K;
        public float* Destination;
        public int PanelsPerTask;
    }

    /// <summary><see cref="PackPanels"/> split over panel ranges on up to <paramref name="threads"/> threads.</summary>
    internal static void PackPanelsParallel(int threads, float* src, nint rowStride, nint colStride, int n, int k, float* dst)
    {
        int panels = (n + NR - 1) / NR;
        if (threads <= 1 || (long)n * k < 65536)
        {
            PackPanels(src, rowStride, colStride, n, k, dst);
            return;
        }

        int perTask = Math.Max(1, (panels + (threads * 4) - 1) / (threads * 4));
        var args = new PackArgs { Source = src, RowStride = rowStride, ColStride = colStride, N = n, K = k, Destination = dst, PanelsPerTask = perTask };
        WorkerPool.Run(threads, (panels + perTask - 1) / perTask, &PackTask, &args);
    }

    private static void PackTask(void* argsPointer, int task)
    {
        ref PackArgs g = ref Unsafe.AsRef<PackArgs>(argsPointer);
        int j0 = task * g.PanelsPerTask * NR;
        int n = Math.Min(g.PanelsPerTask * NR, g.N - j0);
        PackPanels(g.Source + (j0 * g.RowStride), g.RowStride, g.ColStride, n, g.K, g.Destination + ((nint)j0 * g.K));
    }

    /// <summary>
    /// Packs rows [i0, i0+mc) × cols [p0, p0+kc) of op(A) (element (i, p) at a[i·rowStride + p·colStride]) into
    /// mr-row, k-major panels, zero-padding the last panel.
    /// </summary>
    internal static void PackA(float* a, nint rowStride, nint colStride, int i0, int mc, int p0, int kc, int mr, float* dst)
    {
        for (int q = 0; q < mc; q += mr)
        {
            int rows = Math.Min(mr, mc - q);
            float* panel = dst + ((nint)q * kc);
            if (colStride == 1)
            {
                // Row-major A: a transposition. Eight rows at a time by 8×8 register transposes, then four by 4×4, the
                // last rows element by element (the same values in the same places either way).
                float* s0 = a + ((i0 + q) * rowStride) + p0;
                int r = 0;
                for (; Avx.IsSupported && r + 8 <= rows; r += 8)
                {
                    Transpose8Rows(s0 + (r * rowStride), rowStride, kc, panel + r, mr);
                }

                for (; Sse.IsSupported && r + 4 <= rows; r += 4)
                {
                    Transpose4Rows(s0 + (r * rowStride), rowStride, kc, panel + r, mr);
                }

                for (; r < rows; r++)
                {
                    float* s = s0 + (r * rowStride);
                    float* d = panel + r;
                    for (int p = 0; p < kc; p++)
                    {
                        d[p * mr] = s[p];
                    }
                }
            }
            else if (rowStride == 1 && rows == mr)
            {
                // op(A) stored transposed (dYᵀ of a weight gradient): each k step is mr consecutive floats of one row.
                CopyRuns(a + (p0 * colStride) + i0 + q, colStride, kc, mr, panel);
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    float* s = a + ((p0 + p) * colStride) + ((i0 + q) * rowStride);
                    float* d = panel + (p * mr);
                    for (int r = 0; r < rows; r++)
                    {
                        d[r] = s[r * rowStride];
                    }
                }
            }

            if (rows < mr)
            {
                for (int p = 0; p < kc; p++)
                {
                    for (int r = rows; r < mr; r++)
                    {
                        panel[(p * mr) + r] = 0f;
                    }
                }
            }
        }
    }

    /// <summary>
    /// d[p·<paramref name="dstStride"/> + r] = s[r·<paramref name="rowStride"/> + p] for 8 rows r and p &lt; <paramref name="count"/>:
    /// 8×8 blocks transposed in registers (unpack, shuffle, 128-bit permute), the last columns one by one.
    /// </summary>
    private static void Transpose8Rows(float* s, nint rowStride, int count, float* d, int dstStride)
    {
        int p = 0;
        for (; p + 8 <= count; p += 8)
        {
            float* b = s + p;
            var t0 = Avx.UnpackLow(Avx.LoadVector256(b), Avx.LoadVector256(b + rowStride));
            var t1 = Avx.UnpackHigh(Avx.LoadVector256(b), Avx.LoadVector256(b + rowStride));
            var t2 = Avx.UnpackLow(Avx.LoadVector256(b + (2 * rowStride)), Avx.LoadVector256(b + (3 * rowStride)));
            var t3 = Avx.UnpackHigh(Avx.LoadVector256(b + (2 * rowStride)), Avx.LoadVector256(b + (3 * rowStride)));
            var t4 = Avx.UnpackLow(Avx.LoadVector256(b + (4 * rowStride)), Avx.LoadVector256(b + (5 * rowStride)));
            var t5 = Avx.UnpackHigh(Avx.LoadVector256(b + (4 * rowStride)), Avx.LoadVector256(b + (5 * rowStride)));
            var t6 = Avx.UnpackLow(Avx.LoadVector256(b + (6 * rowStride)), Avx.LoadVector256(b + (7 * rowStride)));
            var t7 = Avx.UnpackHigh(Avx.LoadVector256(b + (6 * rowStride)), Avx.LoadVector256(b + (7 * rowStride)));

            // Per 128-bit half: column j (u_j, j < 4) or j + 4 (upper half) of rows 0-3 (u0-u3) and 4-7 (u4-u7).
            var u0 = Avx.Shuffle(t0, t2, 0x44);
            var u1 = Avx.Shuffle(t0, t2, 0xEE);
            var u2 = Avx.Shuffle(t1, t3, 0x44);
            var u3 = Avx.Shuffle(t1, t3, 0xEE);
            var u4 = Avx.Shuffle(t4, t6, 0x44);
            var u5 = Avx.Shuffle(t4, t6, 0xEE);
            var u6 = Avx.Shuffle(t5, t7, 0x44);
            var u7 = Avx.Shuffle(t5, t7, 0xEE);

            float* o = d + ((nint)p * dstStride);
            Avx.Store(o, Avx.Permute2x128(u0, u4, 0x20));
            Avx.Store(o + dstStride, Avx.Permute2x128(u1, u5, 0x20));
            Avx.Store(o + (2 * dstStride), Avx.Permute2x128(u2, u6, 0x20));
            Avx.Store(o + (3 * dstStride), Avx.Permute2x128(u3, u7, 0x20));
            Avx.Store(o + (4 * dstStride), Avx.Permute2x128(u0, u4, 0x31));
            Avx.Store(o + (5 * dstStride), Avx.Permute2x128(u1, u5, 0x31));
            Avx.Store(o + (6 * dstStride), Avx.Permute2x128(u2, u6, 0x31));
            Avx.Store(o + (7 * dstStride), Avx.Permute2x128(u3, u7, 0x31));
        }

        for (; p < count; p++)
        {
            for (int r = 0; r < 8; r++)
            {
                d[((nint)p * dstStride) + r] = s[(r * rowStride) + p];
            }
        }
    }

    /// <summary><see cref="Transpose8Rows"/> for 4 rows, by 4×4 blocks.</summary>
    private static void Transpose4Rows(float* s, nint rowStride, int count, float* d, int dstStride)
    {
        int p = 0;
        for (; p + 4 <= count; p += 4)
        {
            float* b = s + p;
            var r0 = Sse.LoadVector128(b);
            var r1 = Sse.LoadVector128(b + rowStride);
            var r2 = Sse.LoadVector128(b + (2 * rowStride));
            var r3 = Sse.LoadVector128(b + (3 * rowStride));
            var t0 = Sse.UnpackLow(r0, r1);
            var t1 = Sse.UnpackHigh(r0, r1);
            var t2 = Sse.UnpackLow(r2, r3);
            var t3 = Sse.UnpackHigh(r2, r3);
            float* o = d + ((nint)p * dstStride);
            Sse.Store(o, Sse.MoveLowToHigh(t0, t2));
            Sse.Store(o + dstStride, Sse.MoveHighToLow(t2, t0));
            Sse.Store(o + (2 * dstStride), Sse.MoveLowToHigh(t1, t3));
            Sse.Store(o + (3 * dstStride), Sse.MoveHighToLow(t3, t1));
        }

        for (; p < count; p++)
        {
            for (int r = 0; r < 4; r++)
            {
                d[((nint)p * dstStride) + r] = s[(r * rowStride) + p];
            }
        }
    }

    /// <summary>
    /// Copies <paramref name="count"/> runs of <paramref name="width"/> consecutive floats, run p starting at
    /// src + p·<paramref name="stride"/>, to consecutive places of <paramref name="dst"/> (vector copies for the micro-tile heights).
    /// </summary>
    internal static void CopyRuns(float* src, nint stride, int count, int width, float* dst)
    {
        if (width == 12)
        {
            for (int p = 0; p < count; p++, src += stride, dst += 12)
            {
                Vector256.Store(Vector256.Load(src), dst);
                Vector128.Store(Vector128.Load(src + 8), dst + 8);
            }
        }
        else if (width == 8)
        {
            for (int p = 0; p < count; p++, src += stride, dst += 8)
            {
                Vector256.Store(Vector256.Load(src), dst);
            }
        }
        else if (width == 6)
        {
            for (int p = 0; p < count; p++, src += stride, dst += 6)
            {
                Vector128.Store(Vector128.Load(src), dst);
                dst[4] = src[4];
                dst[5] = src[5];
            }
        }
        else if (width == 4)
        {
            for (int p = 0; p < count; p++, src += stride, dst += 4)
            {
                Vector128.Store(Vector128.Load(src), dst);
            }
        }
        else
        {
            for (int p = 0; p < count; p++, src += stride, dst += width)
            {
                Buffer.MemoryCopy(src, dst, width * sizeof(float), width * sizeof(float));
            }
        }
    }

    /// <summary>Scalar mr×32 tile with the same contract as <see cref="Tile512"/>.</summary>
    internal static void TileScalar(int kc, int mr, float* a, float* b, float* c, nint ldc, float* bias, bool load)
    {
        float* acc = stackalloc float[4 * NR];
        for (int r0 = 0; r0 < mr; r0 += 4)
        {
            int rows = Math.Min(4, mr - r0);
            for (int r = 0; r < rows; r++)
            {
                for (int j = 0; j < NR; j++)
                {
                    acc[(r * NR) + j] = (load ? c[((r0 + r) * ldc) + j] : 0f) + (bias != null ? bias[j] : 0f);
                }
            }

            for (int p = 0; p < kc; p++)
            {
                float* bp = b + (p * NR);
                float* ap = a + (p * mr) + r0;
                for (int r = 0; r < rows; r++)
                {
                    float av = ap[r];
                    float* accRow = acc + (r * NR);
                    for (int j = 0; j < NR; j++)
                    {
                        accRow[j] += av * bp[j];
                    }
                }
            }

            for (int r = 0; r < rows; r++)
            {
                for (int j = 0; j < NR; j++)
                {
                    c[((r0 + r) * ldc) + j] = acc[(r * NR) + j];
                }
            }
        }
    }

    /// <summary>Arguments of one blocked GEMM (lives on the caller's stack during <see cref="WorkerPool.Run"/>).</summary>
    internal struct BlockedArgs
    {
        public float* A;
        public nint ARowStride;
        public nint AColStride;
        public float* B;
        public float* C;
        public nint Ldc;
        public float* Bias;
        public int M;
        public int N;
        public int K;
        public bool Accumulate;
        public SimdLevel Simd;
        public int Mr;
        public int Mc;
        public int MBlocks;
        public int NChunks;
        public int PanelsPerChunk;
        public WeightFormat Format;
        public void* LowData;
        public float* Scales;
        public float* SharedA;
        public bool FusedTiles;
    }

    /// <summary>C[m, n] = op(A)·B (+ bias) (+ C) with B pre-packed in NR panels of depth K.</summary>
    internal static void Blocked(int threads, SimdLevel simd, float* a, nint aRowStride, nint aColStride, float* b,
        float* c, nint ldc, float* bias, int m, int n, int k, bool accumulate, in LowB low = default, bool fusedTiles = true)
    {
        int mr = MicroRows(simd, m);
        int panels = (n + NR - 1) / NR;
        int mc = mr * McPanels;
        int mBlocks = (m + mc - 1) / mc;
        int nChunks = 1;
        if (threads > 1)
        {
            // Enough tasks for dynamic balancing; split N only when M alone does not give them.
            int target = threads * 8;
            nChunks = Math.Clamp((target + mBlocks - 1) / mBlocks, 1, panels);
        }

        int panelsPerChunk = (panels + nChunks - 1) / nChunks;
        nChunks = (panels + panelsPerChunk - 1) / panelsPerChunk;

        // Few rows split over many column chunks: pack A once here (every task would otherwise pack the same block).
        float* sharedA = null;
        if (nChunks > 1 && m <= MaxSharedA)
        {
            sharedA = Scratch.Get(Scratch.SharedA, mBlocks * mc * k);
            for (int ib = 0; ib < mBlocks; ib++)
            {
                int i0 = ib * mc, rows = Math.Min(mc, m - i0);
                int pad = (rows + mr - 1) / mr * mr;
                float* block = sharedA + ((nint)ib * mc * k);
                for (int p0 = 0; p0 < k; p0 += KC)
                {
                    PackA(a, aRowStride, aColStride, i0, rows, p0, Math.Min(KC, k - p0), mr, block + ((nint)pad * p0));
                }
            }
        }
        var args = new BlockedArgs
        {
            A = a,
            ARowStride = aRowStride,
            AColStride = aColStride,
            B = b,
            C = c,
            Ldc = ldc,
            Bias = bias,
            M = m,
            N = n,
            K = k,
            Accumulate = accumulate,
            Simd = simd,
            Mr = mr,
            Mc = mc,
            MBlocks = mBlocks,
            NChunks = nChunks,
            PanelsPerChunk = panelsPerChunk,
            Format = low.Format,
            LowData = low.Data,
            Scales = low.Scales,
            SharedA = sharedA,
            FusedTiles = fusedTiles && FusedLowTiles(simd, mr, low.Format, m),
        };
        WorkerPool.Run(threads, mBlocks * nChunks, &BlockedTask, &args);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BlockedTask(void* argsPointer, int task)
    {
        ref BlockedArgs g = ref Unsafe.AsRef<BlockedArgs>(argsPointer);
        int ib = task / g.NChunks, jb = task % g.NChunks;
        int i0 = ib * g.Mc, mc = Math.Min(g.Mc, g.M - i0);
        int jp0 = jb * g.PanelsPerChunk, jpn = Math.Min(g.PanelsPerChunk, ((g.N + NR - 1) / NR) - jp0);
        int mr = g.Mr, k = g.K;
        nint ldc = g.Ldc;
        int mcPad = (mc + mr - 1) / mr * mr;
        float* pack = g.SharedA != null ? g.SharedA + ((nint)ib * g.Mc * k) : Scratch.Get(Scratch.PackA, mcPad * k);
        float* tile = Scratch.Get(Scratch.Tile, mr * NR);
        bool widen = g.Format != WeightFormat.Float32;
        float* widened = widen ? Scratch.Get(Scratch.Widened, KC * NR) : null;
        var low = new LowB(g.Format, g.LowData, g.Scales);

        // Pack the whole A block once (KC-deep blocks, each mr-row k-major panels), then stream the B panels.
        for (int p0 = 0; g.SharedA == null && p0 < k; p0 += KC)
        {
            PackA(g.A, g.ARowStride, g.AColStride, i0, mc, p0, Math.Min(KC, k - p0), mr, pack + ((nint)mcPad * p0));
        }

        // Decoding products: the first tile of each block prefetches the next one; the task's first block is requested
        // here (tasks start anywhere in the weights, so no earlier tile fetched it).
        // A widened block (int8 with 32 rows) is read once by WidenBlock, which requests the next block in one burst.
        bool prefetch = mr == 8 && g.Simd == SimdLevel.Vector512;
        long elementBytes = g.Format == WeightFormat.Float32 ? sizeof(float) : g.Format == WeightFormat.BFloat16 ? sizeof(ushort) : 1;
        byte* weights = g.Format == WeightFormat.Float32 ? (byte*)g.B : (byte*)g.LowData;
        if (prefetch && jpn > 0)
        {
            PrefetchBlock(weights + ((long)jp0 * k * NR * elementBytes), Math.Min(KC, k) * NR * elementBytes);
        }

        // Panel-outer, depth-middle: the block's C tiles stay in L1 across the KC steps, the B micro-panel (KC×32) stays
        // in L1 across the row panels, and the packed A block stays in L2.
        for (int jj = 0; jj < jpn; jj++)
        {
            int jp = jp0 + jj;
            int j0 = jp * NR;
            int nr = Math.Min(NR, g.N - j0);
            for (int p0 = 0; p0 < k; p0 += KC)
            {
                int kc = Math.Min(KC, k - p0);
                float* packBlock = pack + ((nint)mcPad * p0);
                bool load = p0 > 0 || g.Accumulate;
                float* bias = p0 == 0 && g.Bias != null ? g.Bias + j0 : null;
                if (g.FusedTiles && nr == NR && mc % mr == 0)
                {
                    // Whole 8×32 tiles widen each k-step in registers (no widened block is stored and reloaded).
                    for (int q = 0; q < mc; q += mr)
                    {
                        LowTile8(low, jp, k, p0, kc, packBlock + ((nint)q * kc), g.C + ((i0 + q) * ldc) + j0, ldc, bias, load, prefetch: prefetch && q == 0);
                    }

                    continue;
                }

                float* bp;
                if (widen)
                {
                    if (prefetch)
                    {
                        // Panels and their blocks are contiguous: the next block starts where this one ends.
                        PrefetchBlock(weights + ((((long)jp * k) + p0 + kc) * NR * elementBytes), Math.Min(KC, k) * NR * elementBytes);
                    }

                    WidenBlock(low, jp, k, p0, kc, widened);
                    bp = widened;
                }
                else
                {
                    bp = g.B + ((nint)jp * k * NR) + ((nint)p0 * NR);
                }

                for (int q = 0; q < mc; q += mr)
                {
                    int rows = Math.Min(mr, mc - q);
                    float* ap = packBlock + ((nint)q * kc);
                    float* cp = g.C + ((i0 + q) * ldc) + j0;
                    if (rows == mr && nr == NR)
                    {
                        RunTile(g.Simd, kc, mr, ap, bp, cp, ldc, bias, load, prefetch: prefetch && !widen && q == 0);
                    }
                    else
                    {
                        for (int r = 0; r < mr; r++)
                        {
                            for (int j = 0; j < NR; j++)
                            {
                                float v = load && r < rows && j < nr ? cp[(r * ldc) + j] : 0f;
                                if (bias != null && j < nr)
                                {
                                    v += bias[j];
                                }

                                tile[(r * NR) + j] = v;
                            }
                        }

                        RunTile(g.Simd, kc, mr, ap, bp, tile, NR, null, true);
                        for (int r = 0; r < rows; r++)
                        {
                            for (int j = 0; j < nr; j++)
                            {
                                cp[(r * ldc) + j] = tile[(r * NR) + j];
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Requests <paramref name="bytes"/> of packed weights into L2, one request per cache line (never faults).</summary>
    private static void PrefetchBlock(byte* start, long bytes)
    {
        for (long o = 0; Sse.IsSupported && o < bytes; o += 64)
        {
            Sse.Prefetch1(start + o);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void RunTile(SimdLevel simd, int kc, int mr, float* a, float* b, float* c, nint ldc, float* bias, bool load, bool prefetch = false)
    {
        if (simd == SimdLevel.Vector512)
        {
            if (mr == 8)
            {
                Tile512x8(kc, a, b, c, ldc, bias, load, prefetch);
            }
            else
            {
                Tile512(kc, a, b, c, ldc, bias, load);
            }
        }
        else if (simd == SimdLevel.Vector256)
        {
            Tile256(kc, a, b, c, ldc, bias, load);
        }
        else
        {
            TileScalar(kc, mr, a, b, c, ldc, bias, load);
        }
    }

    /// <summary>Arguments of the small-M (GEMV-like) path.</summary>
    internal struct SmallArgs
    {
        public float* A;
        public float* B;
        public float* C;
        public float* Bias;
        public int M;
        public int N;
        public int K;
        public bool Accumulate;
        public int PanelsPerTask;
        public int Panels;
        public bool Wide;
        public WeightFormat Format;
        public void* LowData;
        public float* Scales;
    }

    /// <summary>
    /// C[m, n] = A[m, k]·B (+ bias) (+ C) for small m (Vector512 or Vector256): streams each packed panel once per row
    /// group, reading A rows in place (no packing, no zero-padded rows).
    /// </summary>
    internal static void Small(int threads, SimdLevel simd, float* a, float* b, float* c, float* bias, int m, int n, int k, bool accumulate,
        in LowB low = default)
    {
        int panels = (n + NR - 1) / NR;
        int perTask = threads > 1 ? Math.Max(1, (panels + (threads * 8) - 1) / (threads * 8)) : panels;
        var args = new SmallArgs
        {
            A = a,
            B = b,
            C = c,
            Bias = bias,
            M = m,
            N = n,
            K = k,
            Accumulate = accumulate,
            PanelsPerTask = perTask,
            Panels = panels,
            Wide = simd == SimdLevel.Vector512,
            Format = low.Format,
            LowData = low.Data,
            Scales = low.Scales,
        };
        WorkerPool.Run(threads, (panels + perTask - 1) / perTask, &SmallTask, &args);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SmallTask(void* argsPointer, int task)
    {
        ref SmallArgs g = ref Unsafe.AsRef<SmallArgs>(argsPointer);
        int jpEnd = Math.Min(g.Panels, (task + 1) * g.PanelsPerTask);
        int k = g.K, m = g.M, n = g.N;
        float* tile = stackalloc float[4 * NR];
        for (int jp = task * g.PanelsPerTask; jp < jpEnd; jp++)
        {
            float* bp = g.B + ((nint)jp * k * NR);
            int j0 = jp * NR;
            int nr = Math.Min(NR, n - j0);
            int i = 0;
            while (i < m)
            {
                int rows = m - i >= 4 && g.Wide ? 4 : m - i >= 2 ? 2 : 1;
                float* ap = g.A + ((nint)i * k);
                StartTile(g, tile, i, rows, j0, nr);
                if (!g.Wide)
                {
                    if (rows == 2)
                    {
                        Rows2x256(k, ap, bp, tile);
                    }
                    else
                    {
                        Row1x256(k, ap, bp, tile);
                    }
                }
                else if (g.Format == WeightFormat.Float32)
                {
                    SmallRows<Fp32Loader>(rows, k, ap, bp, default, default, tile);
                }
                else
                {
                    SmallLowTile(g, jp, ap, rows, tile);
                }

                FinishTile(g, tile, i, rows, j0, nr);
                i += rows;
            }
        }
    }

    /// <summary>
    /// Sets the small-M tile of rows [i, i + rows) of one panel to the blocked tiles' starting values: C when accumulating
    /// (else zero), plus the bias, with the same operations. The kernels then add the k-steps onto it in order, so every
    /// row gets the bits the blocked tiles give it, whatever the number of rows in the product.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StartTile(in SmallArgs g, float* tile, int i, int rows, int j0, int nr)
    {
        for (int r = 0; r < rows; r++)
        {
            float* cr = g.C + ((nint)(i + r) * g.N) + j0;
            float* tr = tile + (r * NR);
            if (nr == NR && g.Wide)
            {
                var v0 = g.Accumulate ? Vector512.Load(cr) : Vector512<float>.Zero;
                var v1 = g.Accumulate ? Vector512.Load(cr + 16) : Vector512<float>.Zero;
                if (g.Bias != null)
                {
                    v0 += Vector512.Load(g.Bias + j0);
                    v1 += Vector512.Load(g.Bias + j0 + 16);
                }

                v0.Store(tr);
                v1.Store(tr + 16);
                continue;
            }

            for (int j = 0; j < NR; j++)
            {
                float v = g.Accumulate && j < nr ? cr[j] : 0f;
                if (g.Bias != null && j < nr)
                {
                    v += g.Bias[j0 + j];
                }

                tr[j] = v;
            }
        }
    }

    /// <summary>Writes the first <paramref name="nr"/> columns of a finished small-M tile to C.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FinishTile(in SmallArgs g, float* tile, int i, int rows, int j0, int nr)
    {
        for (int r = 0; r < rows; r++)
        {
            float* cr = g.C + ((nint)(i + r) * g.N) + j0;
            float* tr = tile + (r * NR);
            if (nr == NR && g.Wide)
            {
                Vector512.Load(tr).Store(cr);
                Vector512.Load(tr + 16).Store(cr + 16);
                continue;
            }

            new ReadOnlySpan<float>(tr, nr).CopyTo(new Span<float>(cr, nr));
        }
    }

    // The Vector256 small-M kernels (the Vector512 ones, every format, are SmallRows): each output vector is one chain of
    // FMAs over k in order, starting from the tile (StartTile),
    // exactly as in the blocked tiles, so a row's result never depends on the row group or tile it is computed in.
    // Independent chains come from rows and column vectors (latency is hidden by the memory-bound weight stream).

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row1x256(int k, float* a, float* b, float* t)
    {
        var s0 = Vector256.Load(t);
        var s1 = Vector256.Load(t + 8);
        var s2 = Vector256.Load(t + 16);
        var s3 = Vector256.Load(t + 24);
        for (int p = 0; p < k; p++)
        {
            float* bp = b + (p * NR);
            var x = Vector256.Create(a[p]);
            s0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp), s0);
            s1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp + 8), s1);
            s2 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp + 16), s2);
            s3 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp + 24), s3);
        }

        s0.Store(t);
        s1.Store(t + 8);
        s2.Store(t + 16);
        s3.Store(t + 24);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rows2x256(int k, float* a, float* b, float* t)
    {
        float* a1 = a + k;
        var s0 = Vector256.Load(t);
        var s1 = Vector256.Load(t + 8);
        var s2 = Vector256.Load(t + 16);
        var s3 = Vector256.Load(t + 24);
        var s4 = Vector256.Load(t + NR);
        var s5 = Vector256.Load(t + NR + 8);
        var s6 = Vector256.Load(t + NR + 16);
        var s7 = Vector256.Load(t + NR + 24);
        for (int p = 0; p < k; p++)
        {
            float* bp = b + (p * NR);
            var b0 = Vector256.Load(bp);
            var b1 = Vector256.Load(bp + 8);
            var b2 = Vector256.Load(bp + 16);
            var b3 = Vector256.Load(bp + 24);
            var x = Vector256.Create(a[p]);
            s0 = Vector256.FusedMultiplyAdd(x, b0, s0);
            s1 = Vector256.FusedMultiplyAdd(x, b1, s1);
            s2 = Vector256.FusedMultiplyAdd(x, b2, s2);
            s3 = Vector256.FusedMultiplyAdd(x, b3, s3);
            x = Vector256.Create(a1[p]);
            s4 = Vector256.FusedMultiplyAdd(x, b0, s4);
            s5 = Vector256.FusedMultiplyAdd(x, b1, s5);
            s6 = Vector256.FusedMultiplyAdd(x, b2, s6);
            s7 = Vector256.FusedMultiplyAdd(x, b3, s7);
        }

        s0.Store(t);
        s1.Store(t + 8);
        s2.Store(t + 16);
        s3.Store(t + 24);
        s4.Store(t + NR);
        s5.Store(t + NR + 8);
        s6.Store(t + NR + 16);
        s7.Store(t + NR + 24);
    }

}
