#pragma warning disable CA2208 // Options name the offending property (not a method parameter) in their exceptions.
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Randomness;
using EsoLM.Schedules;

namespace EsoLM.Sampling;

/// <summary>Options of <see cref="EsoLmSampler"/> (spec §4).</summary>
public sealed record EsoLmSamplerOptions : SamplerOptions
{
    /// <summary>Which sampler: B (causal, KV-cached in both phases) or A (diffusion phase recomputes the clean set bidirectionally).</summary>
    public EsoLmVariant Variant { get; init; } = EsoLmVariant.B;

    /// <summary>
    /// The variant the model was trained as, when known (<c>EsoLmModel.Training</c>). Sampling a model with the
    /// other variant's attention is refused unless <see cref="AllowVariantMismatch"/>: it runs, but samples a
    /// distribution the network was not trained for.
    /// </summary>
    public EsoLmVariant? TrainedVariant { get; init; }

    /// <summary>Allow <see cref="Variant"/> ≠ <see cref="TrainedVariant"/>.</summary>
    public bool AllowVariantMismatch { get; init; }

    /// <summary>T: the diffusion-phase step budget of the planner (≥ 1); default: the number of tokens to generate.</summary>
    public int? Steps { get; init; }

    /// <summary>The policy in effect: <see cref="SamplerOptions.MaskPolicy"/>, else the built-in policy of <see cref="Variant"/>.</summary>
    public IAttentionMaskPolicy EffectiveMaskPolicy => MaskPolicy ?? EsoLmMaskPolicy.Of(Variant);

    /// <summary>α_eval ∈ [0, 1]: the expected fraction of tokens decoded by diffusion (0 = AR, 1 = pure diffusion).</summary>
    public double AlphaEval { get; init; } = 1.0;

    /// <summary>The noise schedule the planner uses.</summary>
    public INoiseSchedule Schedule { get; init; } = LogLinearSchedule.Default;

    /// <summary>
    /// Use the KV cache (default). False recomputes the whole sequence every step: the same tokens, much slower; for
    /// checking the cache.
    /// </summary>
    public bool UseKvCache { get; init; } = true;

    /// <summary>Advanced: a fixed step plan (replaying a trace); its total must equal the tokens to generate of every request.</summary>
    internal StepPlan? FixedPlan { get; init; }

    /// <inheritdoc />
    public override void Validate(ModelConfig config)
    {
        base.Validate(config);
        CheckSteps(Steps, nameof(Steps));

        if (!(AlphaEval >= 0 && AlphaEval <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(AlphaEval), AlphaEval, "AlphaEval must be in [0, 1] (0 = pure AR, 1 = pure diffusion).");
        }

        ArgumentNullException.ThrowIfNull(Schedule, nameof(Schedule));
        if (MaskPolicy is { Variant: EsoLmVariant built } && built != Variant)
        {
            throw new ArgumentException(
                $"MaskPolicy '{MaskPolicy.Name}' is the built-in policy of variant {built} but Variant is {Variant}: set Variant = {built} (or leave MaskPolicy null).",
                nameof(MaskPolicy));
        }

        if (Variant == EsoLmVariant.Mdlm || TrainedVariant == EsoLmVariant.Mdlm)
        {
            throw new ArgumentOutOfRangeException(nameof(Variant), EsoLmVariant.Mdlm,
                "An MDLM baseline model (bidirectional attention) cannot be sampled with the Eso-LM sampler: use the MDLM sampler (--sampler mdlm).");
        }

        if (Variant is not (EsoLmVariant.A or EsoLmVariant.B))
        {
            throw new ArgumentOutOfRangeException(nameof(Variant), Variant, "Unknown Eso-LM variant.");
        }

        if (TrainedVariant is EsoLmVariant trained && trained != Variant && !AllowVariantMismatch)
        {
            throw new ArgumentException(
                $"The model was trained as Eso-LM ({trained}) but the sampler was asked for variant {Variant}: its attention would differ from " +
                $"training. Use Variant = {trained}, or set AllowVariantMismatch = true to run it anyway.", nameof(Variant));
        }
    }
}
