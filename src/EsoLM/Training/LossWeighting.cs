using EsoLM.Masks;
using EsoLM.Schedules;

namespace EsoLM.Training;

/// <summary>How the diffusion term weights each masked token.</summary>
public enum LossWeighting
{
    /// <summary>The ELBO weight α'_t/(1 − α_t) (what perplexities are reported with).</summary>
    Elbo = 0,

    /// <summary>Unweighted cross-entropy (<c>low_var</c>; the reference trains OWT α0 = 1 models this way). Training only.</summary>
    LowVariance = 1,
}
