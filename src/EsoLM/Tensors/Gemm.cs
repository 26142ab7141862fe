namespace EsoLM.Tensors;

/// <summary>Dense fp32 matrix products. All matrices are row-major.</summary>
public static class Gemm
{
    /// <summary>
    /// C[m, N] = A[m, K]·Wᵀ (+ bias[N]) (+ C when <paramref name="accumulate"/>), W packed [N, K].
    /// One-row inputs take the GEMV path.
    /// </summary>
    public static void MultiplyTransposed(ComputeContext context, ReadOnlySpan<float> a, int m, PackedMatrix w,
        ReadOnlySpan<float> bias, Span<float> c, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(w);
        int n = w.Rows, k = w.Cols;
        var wt = w.RowMajor;
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float s = 0;
                for (int p = 0; p < k; p++)
                {
                    s += a[i * k + p] * wt[j * k + p];
                }

                if (!bias.IsEmpty)
                {
                    s += bias[j];
                }

                c[i * n + j] = accumulate ? c[i * n + j] + s : s;
            }
        }
    }

    /// <summary>
    /// General product C[m, n] = op(A)·op(B) (+ C when <paramref name="accumulate"/>), where op(A) is [m, k]
    /// (A stored [k, m] when <paramref name="transposeA"/>) and op(B) is [k, n] (B stored [n, k] when
    /// <paramref name="transposeB"/>). Used by the backward pass, where operands change every step.
    /// </summary>
    public static void Multiply(ComputeContext context, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int m, int n, int k, bool transposeA = false, bool transposeB = false, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(context);
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float s = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = transposeA ? a[p * m + i] : a[i * k + p];
                    float bv = transposeB ? b[j * k + p] : b[p * n + j];
                    s += av * bv;
                }

                c[i * n + j] = accumulate ? c[i * n + j] + s : s;
            }
        }
    }
}
