using System.Numerics.Tensors;

namespace EsoLM.Tensors;

/// <summary>Layer normalisation without bias, as the DiT uses it, optionally fused with the adaLN modulation.</summary>
internal static unsafe class Normalization
{
    /// <summary>
    /// For each of <paramref name="rows"/> rows of width <paramref name="dim"/>:
    /// y = (x − mean)/sqrt(var + eps) · weight · (1 + scale) + shift. <paramref name="scale"/> and
    /// <paramref name="shift"/> may be empty (then 0). Variance is the biased (population) variance.
    /// <paramref name="y"/> may be <paramref name="x"/> (in place). Vectorised (TensorPrimitives); blocks of rows run on the context's
    /// threads (rows are independent, so every thread count gives the same bits).
    /// </summary>
    /// <param name="context">Threads and SIMD width.</param>
    /// <param name="x">Input rows.</param>
    /// <param name="y">Output rows.</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="dim">Row width.</param>
    /// <param name="weight">Per-feature weight (length <paramref name="dim"/>).</param>
    /// <param name="scale">adaLN scale (length <paramref name="dim"/>) or empty.</param>
    /// <param name="shift">adaLN shift (length <paramref name="dim"/>) or empty.</param>
    /// <param name="eps">Variance epsilon.</param>
    /// <param name="mean">When not empty, receives each row's mean (the activation record of training).</param>
    /// <param name="rstd">When not empty, receives each row's 1/sqrt(var + eps).</param>
    public static void LayerNormModulated(ComputeContext context, ReadOnlySpan<float> x, Span<float> y, int rows, int dim,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, float eps, Span<float> mean = default,
        Span<float> rstd = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(dim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(x.Length, rows * dim, nameof(x));
        ArgumentOutOfRangeException.ThrowIfLessThan(y.Length, rows * dim, nameof(y));
        ArgumentOutOfRangeException.ThrowIfLessThan(weight.Length, dim, nameof(weight));
        bool record = !mean.IsEmpty;
        if (record)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(mean.Length, rows, nameof(mean));
            ArgumentOutOfRangeException.ThrowIfLessThan(rstd.Length, rows, nameof(rstd));
        }

        if (context.Simd == SimdLevel.Scalar)
        {
            if (record)
            {
                for (int r = 0; r < rows; r++)
                {
                    var xr = x.Slice(r * dim, dim);
                    double sum = 0, sq = 0;
                    for (int i = 0; i < dim; i++)
                    {
                        sum += xr[i];
                    }

                    float mu = (float)(sum / dim);
                    for (int i = 0; i < dim; i++)
                    {
                        double t = xr[i] - mu;
                        sq += t * t;
                    }

                    mean[r] = mu;
                    rstd[r] = (float)(1.0 / Math.Sqrt((sq / dim) + eps));
                }
            }

            ReferenceKernels.LayerNormModulated(x, y, rows, dim, weight, scale, shift, eps);
            return;
        }

        weight = weight[..dim];
        if (!scale.IsEmpty)
        {
            scale = scale[..dim];
        }

        if (!shift.IsEmpty)
        {
            shift = shift[..dim];
        }

        // Rows are independent: blocks of rows on the worker threads give the same bits as one serial loop.
        int blockRows = Math.Max(1, ParallelElements / dim);
        if (context.MaxDegreeOfParallelism == 1 || rows <= blockRows)
        {
            VectorRows(x, y, 0, rows, dim, weight, scale, shift, eps, mean, rstd);
            return;
        }

        fixed (float* px = x, py = y, pw = weight, pscale = scale, pshift = shift, pmean = mean, prstd = rstd)
        {
            var body = new RowsTask(px, py, pw, scale.IsEmpty ? null : pscale, shift.IsEmpty ? null : pshift, record ? pmean : null, record ? prstd : null,
                rows, dim, eps, blockRows);
            ParallelTasks.Run(context, (rows + blockRows - 1) / blockRows, ref body);
        }
    }

    /// <summary>Elements per parallel block of rows.</summary>
    private const int ParallelElements = 8192;

    private readonly unsafe struct RowsTask(float* x, float* y, float* weight, float* scale, float* shift, float* mean, float* rstd, int rows, int dim,
        float eps, int blockRows) : ITaskBody
    {
        public void Run(int task)
        {
            int r0 = task * blockRows, r1 = Math.Min(rows, r0 + blockRows);
            long at = (long)r0 * dim, len = (long)(r1 - r0) * dim;
            VectorRows(new ReadOnlySpan<float>(x + at, (int)len), new Span<float>(y + at, (int)len), r0, r1 - r0, dim,
                new ReadOnlySpan<float>(weight, dim), scale == null ? default : new ReadOnlySpan<float>(scale, dim),
                shift == null ? default : new ReadOnlySpan<float>(shift, dim), eps,
                mean == null ? default : new Span<float>(mean, rows), rstd == null ? default : new Span<float>(rstd, rows));
        }
    }

    /// <summary>The vectorised rows [first, first + count) (x and y start at row first; mean and rstd are indexed by the absolute row).</summary>
    private static void VectorRows(ReadOnlySpan<float> x, Span<float> y, int first, int count, int dim, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, float eps, Span<float> mean, Span<float> rstd)
    {
        bool record = !mean.IsEmpty;
        for (int r = 0; r < count; r++)
        {
            var xr = x.Slice(r * dim, dim);
            var yr = y.Slice(r * dim, dim);
            float mu = TensorPrimitives.Sum(xr) / dim;
            TensorPrimitives.Subtract(xr, mu, yr);
            double var = TensorPrimitives.SumOfSquares<float>(yr) / (double)dim;
            float inv = (float)(1.0 / Math.Sqrt(var + eps));
            if (record)
            {
                mean[first + r] = mu;
                rstd[first + r] = inv;
            }

            TensorPrimitives.Multiply(yr, inv, yr);
            TensorPrimitives.Multiply(yr, weight, yr);
            if (!scale.IsEmpty)
            {
                // y·(1 + s) = y·s + y
                TensorPrimitives.FusedMultiplyAdd(yr, scale, yr, yr);
            }

            if (!shift.IsEmpty)
            {
                TensorPrimitives.Add(yr, shift, yr);
            }
        }
    }
}
