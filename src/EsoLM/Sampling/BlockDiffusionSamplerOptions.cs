#pragma warning disable CA2208 // Options name the offending property (not a method parameter) in their exceptions.
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Randomness;
using EsoLM.Schedules;

namespace EsoLM.Sampling;

/// <summary>Options of <see cref="BlockDiffusionSampler"/> (BD3-LM style).</summary>
public sealed record BlockDiffusionSamplerOptions : SamplerOptions
{
    /// <summary>L′: tokens per block (≥ 1).</summary>
    public int BlockSize { get; init; } = 16;

    /// <summary>Ancestral steps per block (≥ 1); default: the block size (so NFE ≤ L).</summary>
    public int? StepsPerBlock { get; init; }

    /// <summary>The noise schedule (α0 = 1) inside a block.</summary>
    public INoiseSchedule Schedule { get; init; } = LogLinearSchedule.Default;

    /// <summary>
    /// Unmask exactly one still-masked position of the current block per step (uniformly at random): NFE = the number of
    /// masked positions exactly (the paper's Table 3 setting, NFE = L). <see cref="StepsPerBlock"/> and
    /// <see cref="Schedule"/> are then ignored.
    /// </summary>
    public bool OneTokenPerStep { get; init; }

    /// <inheritdoc />
    public override void Validate(ModelConfig config)
    {
        base.Validate(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(BlockSize, 1, nameof(BlockSize));

        CheckSteps(StepsPerBlock, nameof(StepsPerBlock));

        ArgumentNullException.ThrowIfNull(Schedule, nameof(Schedule));
    }
}
