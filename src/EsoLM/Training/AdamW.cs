using System.Numerics.Tensors;
using EsoLM.Modeling;

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
/// </summary>
internal sealed class AdamW
{
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

    /// <summary>One update of <paramref name="parameters"/> from <paramref name="gradients"/> at learning rate <paramref name="learningRate"/>.</summary>
    public void Step(ModelParameters parameters, ModelParameters gradients, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(gradients);
        StepCount++;
        float b1 = (float)Options.Beta1, b2 = (float)Options.Beta2;
        double bc1 = 1 - Math.Pow(Options.Beta1, StepCount), bc2 = 1 - Math.Pow(Options.Beta2, StepCount);
        float stepSize = (float)(learningRate / bc1);
        float sqrtBc2 = (float)Math.Sqrt(bc2);
        float eps = (float)Options.Epsilon;
        float decay = (float)(1 - (learningRate * Options.WeightDecay));
        for (int t = 0; t < parameters.Tensors.Count; t++)
        {
            var p = parameters.Tensors[t].Data;
            var g = gradients.Tensors[t].Data;
            var m = FirstMoment.Tensors[t].Data;
            var v = SecondMoment.Tensors[t].Data;
            if (Options.WeightDecay != 0)
            {
                TensorPrimitives.Multiply(p, decay, p);
            }

            for (int i = 0; i < p.Length; i++)
            {
                float gi = g[i];
                float mi = (b1 * m[i]) + ((1 - b1) * gi);
                float vi = (b2 * v[i]) + ((1 - b2) * gi * gi);
                m[i] = mi;
                v[i] = vi;
                p[i] -= stepSize * mi / ((MathF.Sqrt(vi) / sqrtBc2) + eps);
            }
        }
    }
}
