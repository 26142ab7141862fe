#pragma warning disable CA2208 // Options name the offending property (not a method parameter) in their exceptions.
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Randomness;
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
    internal IGumbelNoiseSource? NoiseSource { get; init; }

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
