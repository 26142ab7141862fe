using EsoLM.Backends;
using EsoLM.Caching;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Schedules;

namespace EsoLM.Hosting;

/// <summary>Built-in <c>mdlm</c>: <see cref="MdlmSampler"/> (bidirectional ancestral sampling).</summary>
internal sealed class MdlmSamplerFactory : ISamplerFactory
{
    /// <inheritdoc />
    public SamplerCapabilities Capabilities { get; } = new() { UsesAlphaEval = false, OwnMasks = "mdlm" };

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
            Decoder = settings.Decoder,
            Schedule = settings.Schedule,
        });
    }
}
