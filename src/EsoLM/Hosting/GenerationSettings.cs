using EsoLM.Backends;
using EsoLM.Caching;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Schedules;

namespace EsoLM.Hosting;

/// <summary>
/// Everything a sampler factory needs besides the model: the resolved strategies and the per-request settings. Records:
/// equal settings give interchangeable samplers (the generator pools samplers by factory key and settings).
/// </summary>
public sealed record GenerationSettings
{
    /// <summary>Total sequence length L (prompt included), at most the model's context.</summary>
    public required int Length { get; init; }

    /// <summary>Diffusion-phase steps; null = one per generated token.</summary>
    public int? Steps { get; init; }

    /// <summary>α_eval ∈ [0, 1].</summary>
    public double AlphaEval { get; init; } = 1.0;

    /// <summary>Block size of block-diffusion samplers.</summary>
    public int BlockSize { get; init; } = 16;

    /// <summary>Token selection (temperature, top-k, top-p, greedy).</summary>
    public TokenSelectionOptions Selection { get; init; } = TokenSelectionOptions.Default;

    /// <summary>End-of-sequence id, or null.</summary>
    public int? EosTokenId { get; init; }

    /// <summary>The resolved noise schedule.</summary>
    public required INoiseSchedule Schedule { get; init; }

    /// <summary>The resolved attention-mask policy.</summary>
    public required IAttentionMaskPolicy MaskPolicy { get; init; }

    /// <summary>The resolved KV cache factory.</summary>
    public required IKvCacheFactory KvCache { get; init; }

    /// <summary>Optional text decoding of the committed prefix for streaming (<see cref="SamplerOptions.Decoder"/>).</summary>
    public TokenDecoder? Decoder { get; init; }
}
