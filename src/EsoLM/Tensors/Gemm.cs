namespace EsoLM.Tensors;

/// <summary>
/// Dense fp32 matrix products. All matrices are row-major. Blocked, packed, register-tiled (Vector512 12×32,
/// Vector256 6×32, scalar fallback) and multithreaded on <see cref="ComputeContext.MaxDegreeOfParallelism"/> threads.
/// Allocation-free after warm-up (per-thread scratch buffers).
/// </summary>
internal static unsafe class Gemm
{
    /// <summary>
    /// C[m, N] = A[m, K]·Wᵀ (+ bias[N]) (+ C when <paramref name="accumulate"/>), W packed [N, K].
    /// Few-row inputs (decoding, m &lt; 12) take a GEMV-style path that streams each weight panel once per row group.
    /// Weights packed in <see cref="WeightFormat.BFloat16"/> or <see cref="WeightFormat.Int8"/> are widened to fp32 in
    /// registers (or per cache block) and accumulated in fp32; <see cref="WeightFormat.Int8A16"/> weights take the integer
    /// product (<see cref="GemmKernels.MultiplyInt8A16"/>).
    /// </summary>
    /// <param name="context">Threads and SIMD width.</param>
    /// <param name="a">A, row-major [m, K].</param>
    /// <param name="m">Rows of A and C.</param>
    /// <param name="w">The packed weight matrix W [N, K].</param>
    /// <param name="bias">Bias of length N, or empty.</param>
    /// <param name="c">C, row-major [m, N].</param>
    /// <param name="accumulate">Whether to add to the existing contents of C.</param>
    public static void MultiplyTransposed(ComputeContext context, ReadOnlySpan<float> a, int m, PackedMatrix w,
        ReadOnlySpan<float> bias, Span<float> c, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(w);
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        int n = w.Rows, k = w.Cols;
        ArgumentOutOfRangeException.ThrowIfLessThan(a.Length, m * k, nameof(a));
        ArgumentOutOfRangeException.ThrowIfLessThan(c.Length, m * n, nameof(c));
        if (!bias.IsEmpty)
        {
            ArgumentOutOfRangeException.ThrowIfNotEqual(bias.Length, n, nameof(bias));
        }

        if (m == 0)
        {
            return;
        }

        fixed (float* pa = a)
        fixed (float* pc = c)
        fixed (float* pb = bias)
        {
            float* biasPointer = bias.IsEmpty ? null : pb;
            if (w.Format == WeightFormat.Int8A16)
            {
                GemmKernels.MultiplyInt8A16(context.MaxDegreeOfParallelism, pa, w.ByteData, w.Scales, pc, biasPointer, m, n, k, accumulate, context.Simd);
                w.KeepAlive();
                return;
            }

            if (w.Format != WeightFormat.Float32)
            {
                GemmKernels.MultiplyLow(context.MaxDegreeOfParallelism, context.Simd, pa, w.Low, pc, biasPointer, m, n, k, accumulate);
                w.KeepAlive();
                return;
            }

            RowMajorA(context, pa, w.Data, pc, biasPointer, m, n, k, accumulate);
        }

        w.KeepAlive();
    }

    /// <summary>
    /// General product C[m, n] = op(A)·op(B) (+ C when <paramref name="accumulate"/>), where op(A) is [m, k]
    /// (A stored [k, m] when <paramref name="transposeA"/>) and op(B) is [k, n] (B stored [n, k] when
    /// <paramref name="transposeB"/>). Used by the backward pass, where operands change every step: B is packed on
    /// the fly into a per-thread buffer, then the same micro-kernels run.
    /// </summary>
    /// <param name="context">Threads and SIMD width.</param>
    /// <param name="a">A ([m, k], or [k, m] when transposed).</param>
    /// <param name="b">B ([k, n], or [n, k] when transposed).</param>
    /// <param name="c">C, row-major [m, n].</param>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Inner dimension.</param>
    /// <param name="transposeA">Whether A is stored [k, m].</param>
    /// <param name="transposeB">Whether B is stored [n, k].</param>
    /// <param name="accumulate">Whether to add to the existing contents of C.</param>
    public static void Multiply(ComputeContext context, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int m, int n, int k, bool transposeA = false, bool transposeB = false, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfLessThan(a.Length, m * k, nameof(a));
        ArgumentOutOfRangeException.ThrowIfLessThan(b.Length, k * n, nameof(b));
        ArgumentOutOfRangeException.ThrowIfLessThan(c.Length, m * n, nameof(c));
        if (m == 0 || n == 0)
        {
            return;
        }

        if (k == 0)
        {
            if (!accumulate)
            {
                c[..(m * n)].Clear();
            }

            return;
        }

        int panels = (n + GemmKernels.NR - 1) / GemmKernels.NR;
        float* packed = Scratch.Get(Scratch.PackB, panels * GemmKernels.NR * k);
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            int threads = context.MaxDegreeOfParallelism;
            if (transposeB)
            {
                GemmKernels.PackPanelsParallel(threads, pb, k, 1, n, k, packed);
            }
            else
            {
                GemmKernels.PackPanelsParallel(threads, pb, 1, n, n, k, packed);
            }

            if (transposeA)
            {
                GemmKernels.Blocked(threads, context.Simd, pa, 1, m, packed, pc, n, null, m, n, k, accumulate);
            }
            else
            {
                RowMajorA(context, pa, packed, pc, null, m, n, k, accumulate);
            }
        }
    }

    /// <summary>
    /// Row-major A against packed B. With SIMD, fewer than 12 rows take the streaming small-M path; otherwise whole
    /// MR-row tiles take the blocked path and a remainder of fewer than MR rows the small-M path (no zero-padded tile rows).
    /// </summary>
    private static void RowMajorA(ComputeContext context, float* a, float* packed, float* c, float* bias, int m, int n, int k, bool accumulate)
    {
        int threads = context.MaxDegreeOfParallelism;
        if (context.Simd == SimdLevel.Scalar)
        {
            GemmKernels.Blocked(threads, context.Simd, a, k, 1, packed, c, n, bias, m, n, k, accumulate);
            return;
        }

        int mr = GemmKernels.MicroRows(context.Simd, m);
        int full = m < GemmKernels.SmallM ? 0 : m / mr * mr;
        if (full > 0)
        {
            GemmKernels.Blocked(threads, context.Simd, a, k, 1, packed, c, n, bias, full, n, k, accumulate);
        }

        if (full < m)
        {
            GemmKernels.Small(threads, context.Simd, a + ((nint)full * k), packed, c + ((nint)full * n), bias, m - full, n, k, accumulate);
        }
    }
}
