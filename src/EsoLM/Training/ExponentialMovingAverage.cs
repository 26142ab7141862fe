using EsoLM.Modeling;

namespace EsoLM.Training;

/// <summary>
/// EMA of the parameters with the reference warm-up: at update n (counted from 1), decay_n = min(decay, (1 + n)/(10 + n))
/// and shadow −= (1 − decay_n)·(shadow − param). Inference and evaluation use the shadow weights.
/// </summary>
internal sealed class ExponentialMovingAverage
{
    /// <summary>Starts the average at the current parameters.</summary>
    public ExponentialMovingAverage(ModelParameters parameters, double decay = 0.9999)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(decay >= 0 && decay < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(decay), decay, "The EMA decay must be in [0, 1).");
        }

        Decay = decay;
        Shadow = parameters.Clone();
    }

    /// <summary>The maximum decay.</summary>
    public double Decay { get; }

    /// <summary>The averaged weights.</summary>
    public ModelParameters Shadow { get; }

    /// <summary>Updates taken so far.</summary>
    public long UpdateCount { get; set; }

    /// <summary>Folds the current parameters into the average.</summary>
    public void Update(ModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        UpdateCount++;
        float d = (float)Math.Min(Decay, (1.0 + UpdateCount) / (10.0 + UpdateCount));
        float oneMinus = 1f - d;
        for (int t = 0; t < parameters.Tensors.Count; t++)
        {
            var s = Shadow.Tensors[t].Data;
            var p = parameters.Tensors[t].Data;
            for (int i = 0; i < s.Length; i++)
            {
                s[i] -= oneMinus * (s[i] - p[i]);
            }
        }
    }
}
