using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using EsoLM.Modeling;
using EsoLM.Tensors;

namespace EsoLM.Training;

/// <summary>AdamW settings (reference: lr 3e-4, β = (0.9, 0.999), eps 1e-8, weight decay 0).</summary>
public sealed record AdamWOptions
{
    /// <summary>β1.</summary>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>β2.</summary>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>ε added to the denominator.</summary>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>Decoupled weight decay (applied as p −= lr·wd·p).</summary>
    public double WeightDecay { get; init; }

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        if (!(Beta1 >= 0 && Beta1 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "β1 must be in [0, 1).");
        }

        if (!(Beta2 >= 0 && Beta2 < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "β2 must be in [0, 1).");
        }

        if (!(Epsilon > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(Epsilon), Epsilon, "ε must be positive.");
        }

        if (!(WeightDecay >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "Weight decay must be non-negative.");
        }
    }
}

/// <summary>
/// AdamW (decoupled weight decay) with bias correction, as torch.optim.AdamW computes it. Its moments have the
/// parameters' layout, so they are saved in checkpoints tensor by tensor and a resumed run continues exactly.
/// The update is element-wise: <see cref="Step(ComputeContext, ModelParameters, ModelParameters, double, IReadOnlyDictionary{int, PackedMatrix}?)"/>
/// runs it vectorised over fixed chunks on the worker threads with the same operations per element as the plain loop
/// (<see cref="StepReference"/>), so every thread count gives the same bits.
/// </summary>
internal sealed class AdamW
{
    /// <summary>Elements per parallel chunk of a tensor without a packed copy.</summary>
    internal const int ChunkElements = 16384;

    private Chunk[] _chunks = [];
    private ModelParameters? _chunked;
    private IReadOnlyDictionary<int, PackedMatrix>? _chunkedPacked;

    /// <summary>Creates the optimizer with zero moments.</summary>
    public AdamW(ModelConfig config, AdamWOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        Options = options ?? new AdamWOptions();
        Options.Validate();
        FirstMoment = ModelParameters.CreateZero(config);
        SecondMoment = ModelParameters.CreateZero(config);
    }

    /// <summary>Settings.</summary>
    public AdamWOptions Options { get; }

    /// <summary>m.</summary>
    public ModelParameters FirstMoment { get; }

    /// <summary>v.</summary>
    public ModelParameters SecondMoment { get; }

    /// <summary>Updates taken so far (the t of bias correction).</summary>
    public long StepCount { get; set; }

    /// <summary>One update of <paramref name="parameters"/> from <paramref name="gradients"/> at learning rate <paramref name="learningRate"/> (all cores).</summary>
    public void Step(ModelParameters parameters, ModelParameters gradients, double learningRate) =>
        Step(ComputeContext.Default, parameters, gradients, learningRate);

    /// <summary>
    /// One update on the context's threads. When <paramref name="packed"/> maps a tensor index to the packed copy of
    /// that [rows, cols] weight, each chunk re-packs its own panels right after updating them (no separate repack pass).
    /// </summary>
    public void Step(ComputeContext context, ModelParameters parameters, ModelParameters gradients, double learningRate,
        IReadOnlyDictionary<int, PackedMatrix>? packed = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(gradients);
        var c = Coefficients(learningRate);
        if (!ReferenceEquals(_chunked, parameters) || !ReferenceEquals(_chunkedPacked, packed))
        {
            _chunks = Plan(parameters, packed);
            _chunked = parameters;
            _chunkedPacked = packed;
        }

        var body = new StepTask(this, parameters, gradients, c, context.Simd);
        ParallelTasks.Run(context, _chunks.Length, ref body);
    }

    /// <summary>The plain per-element loop (the definition the vectorised update must match bit for bit).</summary>
    public void StepReference(ModelParameters parameters, ModelParameters gradients, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(gradients);
        var c = Coefficients(learningRate);
        for (int t = 0; t < parameters.Tensors.Count; t++)
        {
            var p = parameters.Tensors[t].Data;
            var g = gradients.Tensors[t].Data;
            var m = FirstMoment.Tensors[t].Data;
            var v = SecondMoment.Tensors[t].Data;
            if (c.Decay)
            {
                TensorPrimitives.Multiply(p, c.DecayFactor, p);
            }

            for (int i = 0; i < p.Length; i++)
            {
                float gi = g[i];
                float mi = (c.B1 * m[i]) + ((1 - c.B1) * gi);
                float vi = (c.B2 * v[i]) + ((1 - c.B2) * gi * gi);
                m[i] = mi;
                v[i] = vi;
                p[i] -= c.StepSize * mi / ((MathF.Sqrt(vi) / c.SqrtBc2) + c.Eps);
            }
        }
    }

    private readonly record struct StepCoefficients(float B1, float B2, float StepSize, float SqrtBc2, float Eps, bool Decay, float DecayFactor);

    private StepCoefficients Coefficients(double learningRate)
    {
        StepCount++;
        float b1 = (float)Options.Beta1, b2 = (float)Options.Beta2;
        double bc1 = 1 - Math.Pow(Options.Beta1, StepCount), bc2 = 1 - Math.Pow(Options.Beta2, StepCount);
        return new StepCoefficients(b1, b2, (float)(learningRate / bc1), (float)Math.Sqrt(bc2), (float)Options.Epsilon, Options.WeightDecay != 0,
            (float)(1 - (learningRate * Options.WeightDecay)));
    }

    /// <summary>A range of one tensor; for a packed weight, whole panels (<see cref="PackedMatrix.PanelWidth"/> rows).</summary>
    private readonly record struct Chunk(int Tensor, int Start, int Length, PackedMatrix? Packed, int FirstRow, int Rows);

    private static Chunk[] Plan(ModelParameters parameters, IReadOnlyDictionary<int, PackedMatrix>? packed)
    {
        var chunks = new List<Chunk>();
        for (int t = 0; t < parameters.Tensors.Count; t++)
        {
            int n = parameters.Tensors[t].Data.Length;
            if (packed is not null && packed.TryGetValue(t, out var matrix))
            {
                if (matrix.Rows * matrix.Cols != n)
                {
                    throw new ArgumentException($"Packed matrix {matrix.Rows}×{matrix.Cols} does not match tensor {t} ({n} values).", nameof(packed));
                }

                int panelsPerChunk = Math.Max(1, ChunkElements / (PackedMatrix.PanelWidth * matrix.Cols));
                int rowsPerChunk = panelsPerChunk * PackedMatrix.PanelWidth;
                for (int r = 0; r < matrix.Rows; r += rowsPerChunk)
                {
                    int rows = Math.Min(rowsPerChunk, matrix.Rows - r);
                    chunks.Add(new Chunk(t, r * matrix.Cols, rows * matrix.Cols, matrix, r, rows));
                }
            }
            else
            {
                for (int s = 0; s < n; s += ChunkElements)
                {
                    chunks.Add(new Chunk(t, s, Math.Min(ChunkElements, n - s), null, 0, 0));
                }
            }
        }

        return [.. chunks];
    }

    private readonly struct StepTask(AdamW owner, ModelParameters parameters, ModelParameters gradients, StepCoefficients c, SimdLevel simd) : ITaskBody
    {
        public void Run(int task)
        {
            var chunk = owner._chunks[task];
            int t = chunk.Tensor;
            var p = parameters.Tensors[t].Data.AsSpan(chunk.Start, chunk.Length);
            var g = gradients.Tensors[t].Data.AsSpan(chunk.Start, chunk.Length);
            var m = owner.FirstMoment.Tensors[t].Data.AsSpan(chunk.Start, chunk.Length);
            var v = owner.SecondMoment.Tensors[t].Data.AsSpan(chunk.Start, chunk.Length);
            Update(p, g, m, v, c, simd);
            chunk.Packed?.RepackRows(parameters.Tensors[t].Data, chunk.FirstRow, chunk.Rows);
        }
    }

    /// <summary>The update of one range, vectorised; per element exactly the operations of <see cref="StepReference"/>.</summary>
    private static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, StepCoefficients c, SimdLevel simd)
    {
        int n = p.Length, i = 0;
        float oneMinusB1 = 1 - c.B1, oneMinusB2 = 1 - c.B2;
        if (simd == SimdLevel.Vector512 && Vector512.IsHardwareAccelerated)
        {
            var b1 = Vector512.Create(c.B1);
            var b2 = Vector512.Create(c.B2);
            var a1 = Vector512.Create(oneMinusB1);
            var a2 = Vector512.Create(oneMinusB2);
            var step = Vector512.Create(c.StepSize);
            var sqrtBc2 = Vector512.Create(c.SqrtBc2);
            var eps = Vector512.Create(c.Eps);
            var decay = Vector512.Create(c.DecayFactor);
            ref float pr = ref MemoryMarshal.GetReference(p);
            ref float gr = ref MemoryMarshal.GetReference(g);
            ref float mr = ref MemoryMarshal.GetReference(m);
            ref float vr = ref MemoryMarshal.GetReference(v);
            for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var gi = Vector512.LoadUnsafe(ref gr, (nuint)i);
                var mi = (b1 * Vector512.LoadUnsafe(ref mr, (nuint)i)) + (a1 * gi);
                var vi = (b2 * Vector512.LoadUnsafe(ref vr, (nuint)i)) + (a2 * gi * gi);
                mi.StoreUnsafe(ref mr, (nuint)i);
                vi.StoreUnsafe(ref vr, (nuint)i);
                var pi = Vector512.LoadUnsafe(ref pr, (nuint)i);
                if (c.Decay)
                {
                    pi *= decay;
                }

                (pi - (step * mi / ((Vector512.Sqrt(vi) / sqrtBc2) + eps))).StoreUnsafe(ref pr, (nuint)i);
            }
        }
        else if (simd != SimdLevel.Scalar && Vector256.IsHardwareAccelerated)
        {
            var b1 = Vector256.Create(c.B1);
            var b2 = Vector256.Create(c.B2);
            var a1 = Vector256.Create(oneMinusB1);
            var a2 = Vector256.Create(oneMinusB2);
            var step = Vector256.Create(c.StepSize);
            var sqrtBc2 = Vector256.Create(c.SqrtBc2);
            var eps = Vector256.Create(c.Eps);
            var decay = Vector256.Create(c.DecayFactor);
            ref float pr = ref MemoryMarshal.GetReference(p);
            ref float gr = ref MemoryMarshal.GetReference(g);
            ref float mr = ref MemoryMarshal.GetReference(m);
            ref float vr = ref MemoryMarshal.GetReference(v);
            for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
            {
                var gi = Vector256.LoadUnsafe(ref gr, (nuint)i);
                var mi = (b1 * Vector256.LoadUnsafe(ref mr, (nuint)i)) + (a1 * gi);
                var vi = (b2 * Vector256.LoadUnsafe(ref vr, (nuint)i)) + (a2 * gi * gi);
                mi.StoreUnsafe(ref mr, (nuint)i);
                vi.StoreUnsafe(ref vr, (nuint)i);
                var pi = Vector256.LoadUnsafe(ref pr, (nuint)i);
                if (c.Decay)
                {
                    pi *= decay;
                }

                (pi - (step * mi / ((Vector256.Sqrt(vi) / sqrtBc2) + eps))).StoreUnsafe(ref pr, (nuint)i);
            }
        }

        for (; i < n; i++)
        {
            float gi = g[i];
            float mi = (c.B1 * m[i]) + (oneMinusB1 * gi);
            float vi = (c.B2 * v[i]) + (oneMinusB2 * gi * gi);
            m[i] = mi;
            v[i] = vi;
            float pi = c.Decay ? p[i] * c.DecayFactor : p[i];
            p[i] = pi - (c.StepSize * mi / ((MathF.Sqrt(vi) / c.SqrtBc2) + c.Eps));
        }
    }
}
