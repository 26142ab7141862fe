#pragma warning disable CA2208 // Options name the offending property (not a method parameter) in their exceptions.
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Schedules;

namespace EsoLM.Sampling;

/// <summary>
/// Settings every sampler shares; the options of a <see cref="StrategySampler"/> (derive to add a strategy's own
/// settings). Records: copy with <c>with { … }</c>.
/// </summary>
public record SamplerOptions
{
    /// <summary>Largest step budget a sampler accepts (2^20, the largest context): the planner and the schedules walk every step.</summary>
    public const int MaxSteps = 1 << 20;

    /// <summary>Length L of the generated sequences (known tokens included); default: the model's context length.</summary>
    public int? Length { get; init; }

    /// <summary>How tokens are chosen from logits.</summary>
    public TokenSelectionOptions Selection { get; init; } = TokenSelectionOptions.Default;

    /// <summary>
    /// End-of-sequence id, or null. A sequence ends at its first generated EOS in left-to-right order: as soon as every
    /// position before an EOS is committed the sequence stops (nothing later can change that prefix) and its output is
    /// trimmed before the EOS. So an EOS decoded in the diffusion phase does not stop generation by itself; it ends the
    /// sequence once the left-to-right prefix reaches it (typically during the sequential phase). Known tokens are never
    /// treated as EOS.
    /// </summary>
    public int? EosTokenId { get; init; }

    /// <summary>Gumbel noise source (tests inject recorded noise); default: counter-based.</summary>
    public IGumbelNoiseSource? NoiseSource { get; init; }

    /// <summary>Optional text decoding of the committed prefix for streaming.</summary>
    public TokenDecoder? Decoder { get; init; }

    /// <summary>
    /// The attention-mask policy the sampler takes its key ranges from; null = the sampler's built-in masks (Eso-LM:
    /// <c>Variant</c>'s, MDLM: bidirectional, AR: <c>TrainedVariant</c>'s, block diffusion: block-causal with its
    /// <c>BlockSize</c>).
    /// </summary>
    public IAttentionMaskPolicy? MaskPolicy { get; init; }

    /// <summary>Creates the per-sequence KV caches (null: the model's dense cache). Caches are created once per pooled sequence and reused.</summary>
    public Caching.IKvCacheFactory? KvCacheFactory { get; init; }

    /// <summary>Validates against a model; throws naming the setting, its value and the limit.</summary>
    public virtual void Validate(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        ArgumentNullException.ThrowIfNull(Selection, nameof(Selection));
        Selection.Validate();
        if (Length is int l && (l < 1 || l > config.ContextLength))
        {
            throw new ArgumentOutOfRangeException(nameof(Length), l, $"The sequence length must be in [1, {config.ContextLength}] (the model's context length).");
        }

        if (EosTokenId is int eos && ((uint)eos >= (uint)config.VocabSize || eos == config.MaskTokenId))
        {
            throw new ArgumentOutOfRangeException(nameof(EosTokenId), eos,
                $"The EOS id must be in [0, {config.VocabSize}) (the vocabulary) and differ from the mask id {config.MaskTokenId}.");
        }
    }

    internal int ResolveLength(ModelConfig config) => Length ?? config.ContextLength;

    /// <summary>Checks a step budget: in [1, <see cref="MaxSteps"/>].</summary>
    private protected static void CheckSteps(int? steps, string name)
    {
        if (steps is int s && (s < 1 || s > MaxSteps))
        {
            throw new ArgumentOutOfRangeException(name, s, $"{name} must be in [1, {MaxSteps}] (got {s}).");
        }
    }
}

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
    public StepPlan? FixedPlan { get; init; }

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

/// <summary>What <see cref="AutoregressiveSampler"/> computes.</summary>
public enum AutoregressiveMode
{
    /// <summary>
    /// Exact left-to-right generation with this network: Eso-LM with α_eval = 0 (every step feeds the previous token,
    /// now clean, plus one mask; 2 tokens per forward). The network has no shift-by-one (the MASK at ℓ predicts x_ℓ), so
    /// this is the correct way to sample an α0 = 0 model.
    /// </summary>
    Exact = 0,

    /// <summary>
    /// Timing proxy for the paper's "AR (oracle, KV cache)" row: one token per forward (slot i is fed the token chosen at
    /// slot i−1, causal over the cache). It has exactly the cost of a shift-by-one AR decoder of this size, but the
    /// network was not trained for that input: its output is NOT a sample from the model. Use it for benchmarks only.
    /// </summary>
    OneTokenPerStepTiming = 1,
}

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
