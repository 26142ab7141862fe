namespace EsoLM.Tensors;

/// <summary>Layer normalisation without bias, as the DiT uses it, optionally fused with the adaLN modulation.</summary>
public static class Normalization
{
    /// <summary>
    /// For each of <paramref name="rows"/> rows of width <paramref name="dim"/>:
    /// y = (x − mean)/sqrt(var + eps) · weight · (1 + scale) + shift. <paramref name="scale"/> and
    /// <paramref name="shift"/> may be empty (then 0). Variance is the biased (population) variance.
    /// </summary>
    public static void LayerNormModulated(ComputeContext context, ReadOnlySpan<float> x, Span<float> y, int rows, int dim,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, float eps)
    {
        ArgumentNullException.ThrowIfNull(context);
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
}
