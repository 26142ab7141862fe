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
}

/// <summary>
/// Creates a sampler for a model and settings: the DI-friendly definition of a generation strategy (the sampler classes
/// themselves take a model and options). Register yours with <c>builder.AddSampler&lt;T&gt;("name")</c> and select it with
/// <c>EsoLmOptions.Sampler = "name"</c>. Factories must be thread-safe; the samplers they return run one call at a time
/// and are pooled by the generator.
/// </summary>
public interface ISamplerFactory
{
    /// <summary>Creates a sampler.</summary>
    /// <param name="model">The shared, read-only network.</param>
    /// <param name="settings">The settings.</param>
    /// <returns>A new sampler, used by one call at a time.</returns>
    ISampler Create(INetwork model, GenerationSettings settings);
}

/// <summary>Built-in <c>esolm</c>: <see cref="EsoLmSampler"/>, variant from the mask policy (B by default).</summary>
public sealed class EsoLmSamplerFactory : ISamplerFactory
{
    /// <inheritdoc />
    public ISampler Create(INetwork model, GenerationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        return new EsoLmSampler(model, new EsoLmSamplerOptions
        {
            Length = settings.Length,
            Steps = settings.Steps,
            AlphaEval = settings.AlphaEval,
            Selection = settings.Selection,
            EosTokenId = settings.EosTokenId,
            KvCacheFactory = settings.KvCache,
            Schedule = settings.Schedule,
            Variant = BuiltInVariant(settings.MaskPolicy, "esolm"),
        });
    }

    internal static EsoLmVariant BuiltInVariant(IAttentionMaskPolicy policy, string sampler) => policy.Variant
        ?? throw new NotSupportedException(
            $"The built-in '{sampler}' sampler runs the fused Eso-LM masks and cannot apply the custom mask policy '{policy.Name}'. " +
            "Register a sampler that calls IAttentionMaskPolicy itself (see docs/guide/mask-policy.md), or use MaskPolicy 'esolm-a' or 'esolm-b'.");
}

/// <summary>Built-in <c>mdlm</c>: <see cref="MdlmSampler"/> (bidirectional ancestral sampling).</summary>
public sealed class MdlmSamplerFactory : ISamplerFactory
{
    /// <inheritdoc />
    public ISampler Create(INetwork model, GenerationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        return new MdlmSampler(model, new MdlmSamplerOptions
        {
            Length = settings.Length,
            Steps = settings.Steps,
            Selection = settings.Selection,
            EosTokenId = settings.EosTokenId,
            KvCacheFactory = settings.KvCache,
            Schedule = settings.Schedule,
        });
    }
}

/// <summary>Built-in <c>bd3</c>: <see cref="BlockDiffusionSampler"/> (blocks left to right, diffusion inside a block).</summary>
public sealed class BlockDiffusionSamplerFactory : ISamplerFactory
{
    /// <inheritdoc />
    public ISampler Create(INetwork model, GenerationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        return new BlockDiffusionSampler(model, new BlockDiffusionSamplerOptions
        {
            Length = settings.Length,
            BlockSize = settings.BlockSize,
            StepsPerBlock = settings.Steps,
            Selection = settings.Selection,
            EosTokenId = settings.EosTokenId,
            KvCacheFactory = settings.KvCache,
            Schedule = settings.Schedule,
        });
    }
}

/// <summary>Built-in <c>ar</c>: exact left-to-right generation (<see cref="AutoregressiveSampler"/>).</summary>
public sealed class AutoregressiveSamplerFactory : ISamplerFactory
{
    /// <inheritdoc />
    public ISampler Create(INetwork model, GenerationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        return new AutoregressiveSampler(model, new AutoregressiveSamplerOptions
        {
            Length = settings.Length,
            Selection = settings.Selection,
            EosTokenId = settings.EosTokenId,
            KvCacheFactory = settings.KvCache,
            TrainedVariant = EsoLmSamplerFactory.BuiltInVariant(settings.MaskPolicy, "ar"),
        });
    }
}
