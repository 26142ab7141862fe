#pragma warning disable CA2208 // Options name the offending property (not a method parameter) in their exceptions.
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Randomness;
using EsoLM.Schedules;

namespace EsoLM.Sampling;

/// <summary>Options of <see cref="AutoregressiveSampler"/>.</summary>
public sealed record AutoregressiveSamplerOptions : SamplerOptions
{
    /// <summary>Exact generation or the one-token-per-step timing proxy.</summary>
    public AutoregressiveMode Mode { get; init; } = AutoregressiveMode.Exact;

    /// <summary>The variant the model was trained as (A makes the prompt bidirectional, as in A's sequential phase); default B.</summary>
    public EsoLmVariant? TrainedVariant { get; init; }

    /// <inheritdoc />
    public override void Validate(ModelConfig config)
    {
        base.Validate(config);
        if (Mode is not (AutoregressiveMode.Exact or AutoregressiveMode.OneTokenPerStepTiming))
        {
            throw new ArgumentOutOfRangeException(nameof(Mode), Mode, "Unknown autoregressive mode.");
        }
    }
}
