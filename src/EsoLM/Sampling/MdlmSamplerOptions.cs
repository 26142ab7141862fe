#pragma warning disable CA2208 // Options name the offending property (not a method parameter) in their exceptions.
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Randomness;
using EsoLM.Schedules;

namespace EsoLM.Sampling;

/// <summary>Options of <see cref="MdlmSampler"/>: ancestral MDLM sampling, bidirectional over the whole sequence (α_eval = 1).</summary>
public sealed record MdlmSamplerOptions : SamplerOptions
{
    /// <summary>T: the number of ancestral time steps (≥ 1); default: the sequence length. Steps that unmask nothing cost no forward pass.</summary>
    public int? Steps { get; init; }

    /// <summary>The noise schedule (α0 = 1).</summary>
    public INoiseSchedule Schedule { get; init; } = LogLinearSchedule.Default;

    /// <summary>
    /// Unmask exactly one still-masked position per step (chosen uniformly at random from counter-based keys) instead of
    /// the ancestral schedule: NFE = the number of masked positions exactly (the paper's Table 3 setting, NFE = L).
    /// <see cref="Steps"/> and <see cref="Schedule"/> are then ignored.
    /// </summary>
    public bool OneTokenPerStep { get; init; }

    /// <inheritdoc />
    public override void Validate(ModelConfig config)
    {
        base.Validate(config);
        CheckSteps(Steps, nameof(Steps));

        ArgumentNullException.ThrowIfNull(Schedule, nameof(Schedule));
    }
}
