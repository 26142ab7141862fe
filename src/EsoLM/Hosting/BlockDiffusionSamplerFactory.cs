using EsoLM.Backends;
using EsoLM.Caching;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Schedules;

namespace EsoLM.Hosting;

/// <summary>Built-in <c>bd3</c>: <see cref="BlockDiffusionSampler"/> (blocks left to right, diffusion inside a block).</summary>
internal sealed class BlockDiffusionSamplerFactory : ISamplerFactory
{
    /// <inheritdoc />
    public SamplerCapabilities Capabilities { get; } = new() { UsesAlphaEval = false, OwnMasks = BlockCausalMaskPolicy.PolicyName };

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
            Decoder = settings.Decoder,
            Schedule = settings.Schedule,
        });
    }
}
