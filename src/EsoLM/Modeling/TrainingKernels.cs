using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using EsoLM.Tensors;

namespace EsoLM.Modeling;

/// <summary>
/// The row-wise parts of the training backward pass, parallel over fixed blocks of <see cref="RowsPerBlock"/> rows.
/// Reductions over rows (parameter gradients of LayerNorm weights, gates and biases) sum each block into its own slot
/// of a partials buffer and then add the blocks in order, so the result depends only on the data, never on the thread
/// count or the scheduling.
/// </summary>
internal static unsafe class TrainingKernels
{
    /// <summary>Rows per parallel block (fixed, so reductions are reproducible on every thread count).</summary>
    public const int RowsPerBlock = 32;

    /// <summary>Blocks of <paramref name="rows"/> rows.</summary>
    public static int Blocks(int rows) => (rows + RowsPerBlock - 1) / RowsPerBlock;

    /// <summary>
    /// Backprop of y = n·w·(1+scale) + shift, n = (x − μ)·rstd: ACCUMULATES dw += Σ dy·n·(1+scale), dScale += Σ dy·n·w,
    /// dShift += Σ dy, and WRITES dx = rstd·(dn − mean(dn) − n·mean(dn⊙n)) with dn = dy⊙w⊙(1+scale).
    /// <paramref name="partials"/> needs 2·d·<see cref="Blocks"/>(rows) values.
    /// </summary>
    public static void LayerNormBackward(ComputeContext ctx, ReadOnlySpan<float> x, ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd,
        ReadOnlySpan<float> dy, Span<float> dx, int rows, int d, ReadOnlySpan<float> w, ReadOnlySpan<float> scale, Span<float> dw, Span<float> dScale,
        Span<float> dShift, float[] partials, float[] wScaled, float[] onePlusScale)
    {
        int blocks = Blocks(rows);
        // w·(1 + scale) and (1 + scale), once per call.
        var ops = onePlusScale.AsSpan(0, d);
        TensorPrimitives.Add(scale[..d], 1f, ops);
        var ws = wScaled.AsSpan(0, d);
        TensorPrimitives.Multiply(w[..d], ops, ws);
        fixed (float* px = x, pm = mean, pr = rstd, pdy = dy, pdx = dx, pws = ws, ppart = partials)
        {
            var body = new LayerNormBackwardTask(px, pm, pr, pdy, pdx, pws, ppart, rows, d);
            ParallelTasks.Run(ctx, blocks, ref body);
        }

        // Σ over blocks in block order: sums[0..d) = Σ dy·n, sums[d..2d) = Σ dy.
        var gn = partials.AsSpan(0, d);
        var g = partials.AsSpan(d, d);
        for (int b = 1; b < blocks; b++)
        {
            TensorPrimitives.Add(gn, partials.AsSpan(2 * d * b, d), gn);
            TensorPrimitives.Add(g, partials.AsSpan((2 * d * b) + d, d), g);
        }

        TensorPrimitives.Add(dShift[..d], g, dShift[..d]);
        TensorPrimitives.FusedMultiplyAdd(gn, w[..d], dScale[..d], dScale[..d]);
        TensorPrimitives.FusedMultiplyAdd(gn, ops, dw[..d], dw[..d]);
    }

    private readonly struct LayerNormBackwardTask(float* x, float* mean, float* rstd, float* dy, float* dx, float* wScaled, float* partials, int rows, int d)
        : ITaskBody
    {
        public void Run(int task)
        {
            int r0 = task * RowsPerBlock, r1 = Math.Min(rows, r0 + RowsPerBlock);
            var ws = new ReadOnlySpan<float>(wScaled, d);
            var sumGn = new Span<float>(partials + (2L * d * task), d);
            var sumG = new Span<float>(partials + (2L * d * task) + d, d);
            sumGn.Clear();
            sumG.Clear();
            Span<float> n = d <= 2048 ? stackalloc float[d] : new float[d];
            Span<float> gn = d <= 2048 ? stackalloc float[d] : new float[d];
            for (int r = r0; r < r1; r++)
            {
                var xr = new ReadOnlySpan<float>(x + ((long)r * d), d);
                var g = new ReadOnlySpan<float>(dy + ((long)r * d), d);
                var dxr = new Span<float>(dx + ((long)r * d), d);
                float mu = mean[r], rs = rstd[r];
                TensorPrimitives.Subtract(xr, mu, n);
                TensorPrimitives.Multiply(n, rs, n);
                TensorPrimitives.Multiply(g, n, gn);
                TensorPrimitives.Add(sumGn, gn, sumGn);
                TensorPrimitives.Add(sumG, g, sumG);
                float a = TensorPrimitives.Dot(g, ws) / d;      // mean(dn)
                float b = TensorPrimitives.Dot(gn, ws) / d;     // mean(dn ⊙ n)
                // dx = rs·(g⊙ws − a − n·b)
                TensorPrimitives.Multiply(g, ws, dxr);
                TensorPrimitives.MultiplyAdd(n, -b, dxr, dxr);
                TensorPrimitives.Subtract(dxr, a, dxr);
                TensorPrimitives.Multiply(dxr, rs, dxr);
            }
        }
    }

    /// <summary>
    /// Backprop through out = x + gate ⊙ branch (no dropout): WRITES dBranch = dOut ⊙ gate and ACCUMULATES
    /// dGate += Σ_rows dOut ⊙ branch. <paramref name="partials"/> needs d·<see cref="Blocks"/>(rows) values.
    /// </summary>
    public static void GateBackward(ComputeContext ctx, ReadOnlySpan<float> dOut, ReadOnlySpan<float> branch, ReadOnlySpan<float> gate,
        Span<float> dBranch, Span<float> dGate, int rows, int d, float[] partials)
    {
        int blocks = Blocks(rows);
        fixed (float* po = dOut, pb = branch, pg = gate, pdb = dBranch, ppart = partials)
        {
            var body = new GateTask(po, pb, pg, pdb, ppart, rows, d);
            ParallelTasks.Run(ctx, blocks, ref body);
        }

        AddBlocks(partials, blocks, d, dGate);
    }

    private readonly struct GateTask(float* dOut, float* branch, float* gate, float* dBranch, float* partials, int rows, int d) : ITaskBody
    {
        public void Run(int task)
        {
            int r0 = task * RowsPerBlock, r1 = Math.Min(rows, r0 + RowsPerBlock);
            var gt = new ReadOnlySpan<float>(gate, d);
            var sum = new Span<float>(partials + ((long)d * task), d);
            sum.Clear();
            for (int r = r0; r < r1; r++)
            {
                var go = new ReadOnlySpan<float>(dOut + ((long)r * d), d);
                TensorPrimitives.Multiply(go, gt, new Span<float>(dBranch + ((long)r * d), d));
                TensorPrimitives.FusedMultiplyAdd(go, new ReadOnlySpan<float>(branch + ((long)r * d), d), sum, sum);
            }
        }
    }

    /// <summary>ACCUMULATES acc += Σ_rows m[row] (a bias gradient). <paramref name="partials"/> needs cols·<see cref="Blocks"/>(rows) values.</summary>
    public static void ColumnSum(ComputeContext ctx, ReadOnlySpan<float> m, Span<float> acc, int rows, int cols, float[] partials)
    {
        int blocks = Blocks(rows);
        fixed (float* pm = m, ppart = partials)
        {
            var body = new ColumnSumTask(pm, ppart, rows, cols);
            ParallelTasks.Run(ctx, blocks, ref body);
        }

        AddBlocks(partials, blocks, cols, acc);
    }

    private readonly struct ColumnSumTask(float* m, float* partials, int rows, int cols) : ITaskBody
    {
        public void Run(int task)
        {
            int r0 = task * RowsPerBlock, r1 = Math.Min(rows, r0 + RowsPerBlock);
            var sum = new Span<float>(partials + ((long)cols * task), cols);
            new ReadOnlySpan<float>(m + ((long)r0 * cols), cols).CopyTo(sum);
            for (int r = r0 + 1; r < r1; r++)
            {
                TensorPrimitives.Add(sum, new ReadOnlySpan<float>(m + ((long)r * cols), cols), sum);
            }
        }
    }

    private static void AddBlocks(float[] partials, int blocks, int width, Span<float> acc)
    {
        var first = partials.AsSpan(0, width);
        for (int b = 1; b < blocks; b++)
        {
            TensorPrimitives.Add(first, partials.AsSpan(width * b, width), first);
        }

        TensorPrimitives.Add(acc[..width], first, acc[..width]);
    }

    /// <summary>y = a + b element-wise, parallel over chunks (bit-identical to the serial add; y may alias a or b).</summary>
    public static void Add(ComputeContext ctx, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        const int chunk = 16384;
        int n = y.Length;
        fixed (float* pa = a, pb = b, py = y)
        {
            var body = new AddTask(pa, pb, py, n, chunk);
            ParallelTasks.Run(ctx, (n + chunk - 1) / chunk, ref body);
        }
    }

    private readonly struct AddTask(float* a, float* b, float* y, int n, int chunk) : ITaskBody
    {
        public void Run(int task)
        {
            int s = task * chunk, len = Math.Min(chunk, n - s);
            TensorPrimitives.Add(new ReadOnlySpan<float>(a + s, len), new ReadOnlySpan<float>(b + s, len), new Span<float>(y + s, len));
        }
    }

    /// <summary>The transpose of RoPE (rotation by −θ) on the q and k parts of qkv-gradient rows, parallel over rows.</summary>
    public static void RotaryBackward(ComputeContext ctx, Span<float> dQkv, int rows, int d, int heads, int headDim, ReadOnlySpan<int> positions,
        RotaryTable table)
    {
        fixed (float* p = dQkv)
        fixed (int* pos = positions)
        {
            var body = new RotaryBackwardTask(p, pos, rows, d, heads, headDim, table);
            ParallelTasks.Run(ctx, Blocks(rows), ref body);
        }
    }

    private readonly struct RotaryBackwardTask(float* dQkv, int* positions, int rows, int d, int heads, int headDim, RotaryTable table) : ITaskBody
    {
        public void Run(int task)
        {
            int r0 = task * RowsPerBlock, r1 = Math.Min(rows, r0 + RowsPerBlock);
            int half = headDim / 2, stride = 3 * d;
            for (int r = r0; r < r1; r++)
            {
                fixed (float* cos = table.Cos(positions[r]), sin = table.Sin(positions[r]))
                {
                    for (int part = 0; part < 2; part++)
                    {
                        for (int h = 0; h < heads; h++)
                        {
                            float* x = dQkv + ((long)r * stride) + (part * d) + (h * headDim);
                            int j = 0;
                            if (Vector512.IsHardwareAccelerated)
                            {
                                // Element-wise, with the scalar loop's operations and rounding (no fused multiply-add).
                                for (; j + 16 <= half; j += 16)
                                {
                                    var a = Vector512.Load(x + j);
                                    var b = Vector512.Load(x + j + half);
                                    var c = Vector512.Load(cos + j);
                                    var s = Vector512.Load(sin + j);
                                    ((a * c) + (b * s)).Store(x + j);
                                    ((b * c) - (a * s)).Store(x + j + half);
                                }
                            }

                            for (; j < half; j++)
                            {
                                float a = x[j], b = x[j + half];
                                x[j] = (a * cos[j]) + (b * sin[j]);
                                x[j + half] = (b * cos[j]) - (a * sin[j]);
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// Tasks per thread of a weight gradient. One: every task packs the whole short-side operand per row block, so more
    /// tasks repeat that packing (three per thread ran the 4 × 256 step's weight gradients at about half the speed of
    /// the forward products; one per thread at the same speed).
    /// </summary>
    private const int TasksPerThread = 1;

    /// <summary>
    /// dW[m, n] += dYᵀ·X over <paramref name="rows"/> rows (dY [rows, m], X [rows, n], row-major): the weight gradient of
    /// a linear layer, in ONE parallel dispatch. Each task owns a block of dW tiles and walks the rows in GEMM-cache-deep
    /// blocks, packing its slice of dYᵀ and of X per block (so both stay in cache however many rows there are) and running
    /// the GEMM micro-kernels, which continue each tile's sum in row order: the bits equal one product over all rows and
    /// do not depend on the thread count.
    /// </summary>
    public static void WeightGradient(ComputeContext ctx, ReadOnlySpan<float> dY, ReadOnlySpan<float> x, Span<float> dW, int m, int n, int rows)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dY.Length, rows * m, nameof(dY));
        ArgumentOutOfRangeException.ThrowIfLessThan(x.Length, rows * n, nameof(x));
        ArgumentOutOfRangeException.ThrowIfLessThan(dW.Length, m * n, nameof(dW));
        if (rows == 0 || m == 0 || n == 0)
        {
            return;
        }

        // Split only the longer side of dW over the tasks, one task per thread: each task then reads one operand once and
        // packs the other once per task (splitting both would re-read the rows-deep operands from memory once per block).
        // The transposed dY slice is packed with vector copies (GemmKernels.CopyRuns).
        int mr = GemmKernels.MicroRows(ctx.Simd);
        const int nr = GemmKernels.NR;
        int tasks = Math.Max(1, TasksPerThread * ctx.MaxDegreeOfParallelism);
        int mTask = m, nTask = n;
        if (m >= n)
        {
            mTask = Math.Max(mr, (m + (tasks * mr) - 1) / (tasks * mr) * mr);
        }
        else
        {
            nTask = Math.Max(nr, (n + (tasks * nr) - 1) / (tasks * nr) * nr);
        }

        int mChunks = (m + mTask - 1) / mTask, nChunks = (n + nTask - 1) / nTask;
        fixed (float* pdy = dY, px = x, pdw = dW)
        {
            var body = new WeightGradientTask(pdy, px, pdw, m, n, rows, ctx.Simd, mr, mTask, nTask, nChunks);
            ParallelTasks.Run(ctx, mChunks * nChunks, ref body);
        }
    }

    private readonly struct WeightGradientTask(float* dY, float* x, float* dW, int m, int n, int rows, SimdLevel simd, int mr, int mTask, int nTask,
        int nChunks) : ITaskBody
    {
        public void Run(int task)
        {
            const int nr = GemmKernels.NR, kcMax = GemmKernels.KC;
            int ib = task / nChunks, jb = task % nChunks;
            int i0 = ib * mTask, rowsHere = Math.Min(mTask, m - i0);
            int mcPad = (rowsHere + mr - 1) / mr * mr;
            int j0 = jb * nTask, cols = Math.Min(nTask, n - j0);
            int myPanels = (cols + nr - 1) / nr;
            float* packA = Scratch.Get(Scratch.PackA, mcPad * kcMax);
            float* packB = Scratch.Get(Scratch.PackB, myPanels * nr * kcMax);
            float* tile = Scratch.Get(Scratch.Tile, mr * nr);
            for (int p0 = 0; p0 < rows; p0 += kcMax)
            {
                int kc = Math.Min(kcMax, rows - p0);
                // op(A) = dYᵀ: element (i, p) at dY[p·m + i]; op(B) = Xᵀ as [n, k]: element (j, p) at X[p·n + j].
                GemmKernels.PackA(dY, 1, m, i0, rowsHere, p0, kc, mr, packA);
                GemmKernels.PackPanels(x + ((nint)p0 * n) + j0, 1, n, cols, kc, packB);
                for (int jj = 0; jj < myPanels; jj++)
                {
                    int c0 = j0 + (jj * nr), width = Math.Min(nr, n - c0);
                    float* bp = packB + ((nint)jj * kc * nr);
                    for (int q = 0; q < rowsHere; q += mr)
                    {
                        int tileRows = Math.Min(mr, rowsHere - q);
                        float* ap = packA + ((nint)q * kc);
                        float* cp = dW + ((nint)(i0 + q) * n) + c0;
                        if (tileRows == mr && width == nr)
                        {
                            GemmKernels.RunTile(simd, kc, mr, ap, bp, cp, n, null, true);
                            continue;
                        }

                        for (int r = 0; r < mr; r++)
                        {
                            for (int j = 0; j < nr; j++)
                            {
                                tile[(r * nr) + j] = r < tileRows && j < width ? cp[((nint)r * n) + j] : 0f;
                            }
                        }

                        GemmKernels.RunTile(simd, kc, mr, ap, bp, tile, nr, null, true);
                        for (int r = 0; r < tileRows; r++)
                        {
                            for (int j = 0; j < width; j++)
                            {
                                cp[((nint)r * n) + j] = tile[(r * nr) + j];
                            }
                        }
                    }
                }
            }
        }
    }
}
