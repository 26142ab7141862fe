namespace EsoLM.Tensors;

/// <summary>
/// The original plain-loop kernels, kept as the reference the fast kernels are tested against. Not for production use.
/// </summary>
internal static class ReferenceKernels
{
    /// <summary>C[m, N] = A[m, K]·Wᵀ (+ bias) (+ C), W row-major [N, K].</summary>
    public static void MultiplyTransposed(ReadOnlySpan<float> a, int m, ReadOnlySpan<float> w, int n, int k,
        ReadOnlySpan<float> bias, Span<float> c, bool accumulate)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                float s = 0;
                for (int p = 0; p < k; p++)
                {
                    s += a[i * k + p] * w[j * k + p];
                }

                if (!bias.IsEmpty)
                {
                    s += bias[j];
                }

                c[i * n + j] = accumulate ? c[i * n + j] + s : s;
            }
        }
    }

    /// <summary>General product, see <see cref="Gemm.Multiply"/>.</summary>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c,
        int m, int n, int k, bool transposeA, bool transposeB, bool accumulate)
    {
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

    /// <summary>Plain layer norm, see <see cref="Normalization.LayerNormModulated"/>.</summary>
    public static void LayerNormModulated(ReadOnlySpan<float> x, Span<float> y, int rows, int dim,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, float eps)
    {
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * dim, dim);
            var yr = y.Slice(r * dim, dim);
            double mean = 0;
            for (int i = 0; i < dim; i++)
            {
                mean += xr[i];
            }

            mean /= dim;
            double var = 0;
            for (int i = 0; i < dim; i++)
            {
                double d = xr[i] - mean;
                var += d * d;
            }

            var /= dim;
            float inv = (float)(1.0 / Math.Sqrt(var + eps));
            for (int i = 0; i < dim; i++)
            {
                float v = (float)(xr[i] - mean) * inv * weight[i];
                if (!scale.IsEmpty)
                {
                    v *= 1f + scale[i];
                }

                if (!shift.IsEmpty)
                {
                    v += shift[i];
                }

                yr[i] = v;
            }
        }
    }

    /// <summary>Plain GELU-tanh.</summary>
    public static void GeluTanh(ReadOnlySpan<float> x, Span<float> y)
    {
        const float c = 0.7978845608028654f;
        for (int i = 0; i < x.Length; i++)
        {
            float v = x[i];
            y[i] = 0.5f * v * (1f + MathF.Tanh(c * (v + 0.044715f * v * v * v)));
        }
    }

    /// <summary>Plain SiLU.</summary>
    public static void Silu(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = x[i] / (1f + MathF.Exp(-x[i]));
        }
    }

    /// <summary>Plain softmax.</summary>
    public static void SoftmaxInPlace(Span<float> row)
    {
        float max = float.NegativeInfinity;
        foreach (var v in row)
        {
            max = MathF.Max(max, v);
        }

        double sum = 0;
        for (int i = 0; i < row.Length; i++)
        {
            row[i] = MathF.Exp(row[i] - max);
            sum += row[i];
        }

        float inv = (float)(1.0 / sum);
        for (int i = 0; i < row.Length; i++)
        {
            row[i] *= inv;
        }
    }

    /// <summary>Plain log-softmax.</summary>
    public static void LogSoftmaxInPlace(Span<float> row)
    {
        float max = float.NegativeInfinity;
        foreach (var v in row)
        {
            max = MathF.Max(max, v);
        }

        double sum = 0;
        foreach (var v in row)
        {
            sum += Math.Exp(v - max);
        }

        float lse = max + (float)Math.Log(sum);
        for (int i = 0; i < row.Length; i++)
        {
            row[i] -= lse;
        }
    }

    /// <summary>Plain rotate-half RoPE.</summary>
    public static void RotaryApply(RotaryTable table, Span<float> data, int rows, int rowStride, int offset, int heads,
        ReadOnlySpan<int> positions)
    {
        int half = table.Half, d = 2 * half;
        for (int r = 0; r < rows; r++)
        {
            var cos = table.Cos(positions[r]);
            var sin = table.Sin(positions[r]);
            for (int h = 0; h < heads; h++)
            {
                var x = data.Slice(r * rowStride + offset + h * d, d);
                for (int j = 0; j < half; j++)
                {
                    float a = x[j], b = x[j + half];
                    x[j] = a * cos[j] - b * sin[j];
                    x[j + half] = b * cos[j] + a * sin[j];
                }
            }
        }
    }

    /// <summary>Plain attention of one head, see <see cref="Attention.AttendHead"/>.</summary>
    public static void AttendHead(ReadOnlySpan<float> queries, int queryStride, int queryCount,
        ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int headDim, ReadOnlySpan<KeyRange> visible,
        Span<float> output, int outputStride, float scale)
    {
        var scores = new float[keys.Length / headDim];
        for (int r = 0; r < queryCount; r++)
        {
            var q = queries.Slice(r * queryStride, headDim);
            var o = output.Slice(r * outputStride, headDim);
            o.Clear();
            var vr = visible[r];
            if (vr.Count == 0)
            {
                continue;
            }

            float max = float.NegativeInfinity;
            for (int pass = 0; pass < 2; pass++)
            {
                int s = pass == 0 ? vr.Start0 : vr.Start1, e = pass == 0 ? vr.End0 : vr.End1;
                for (int kk = s; kk < e; kk++)
                {
                    float dot = 0;
                    for (int d = 0; d < headDim; d++)
                    {
                        dot += q[d] * keys[kk * headDim + d];
                    }

                    scores[kk] = dot * scale;
                    max = MathF.Max(max, scores[kk]);
                }
            }

            double sum = 0;
            for (int pass = 0; pass < 2; pass++)
            {
                int s = pass == 0 ? vr.Start0 : vr.Start1, e = pass == 0 ? vr.End0 : vr.End1;
                for (int kk = s; kk < e; kk++)
                {
                    scores[kk] = MathF.Exp(scores[kk] - max);
                    sum += scores[kk];
                }
            }

            float inv = (float)(1.0 / sum);
            for (int pass = 0; pass < 2; pass++)
            {
                int s = pass == 0 ? vr.Start0 : vr.Start1, e = pass == 0 ? vr.End0 : vr.End1;
                for (int kk = s; kk < e; kk++)
                {
                    float w = scores[kk] * inv;
                    for (int d = 0; d < headDim; d++)
                    {
                        o[d] += w * values[kk * headDim + d];
                    }
                }
            }
        }
    }
}
