using EsoLM.Backends;
using EsoLM.Caching;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Schedules;

namespace EsoLM.Hosting;

/// <summary>
/// Built-in <c>esolm</c>: <see cref="EsoLmSampler"/> with the key ranges of the selected mask policy (a built-in variant's,
/// or a user's policy, cached wherever its ranges allow).
/// </summary>
internal sealed class EsoLmSamplerFactory : ISamplerFactory
{
    /// <inheritdoc />
    public SamplerCapabilities Capabilities { get; } = new() { RequiresSequentialMode = true };

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
            Decoder = settings.Decoder,
            Schedule = settings.Schedule,
            Variant = settings.MaskPolicy.Variant ?? EsoLmVariant.B,
            MaskPolicy = settings.MaskPolicy.Variant is null ? settings.MaskPolicy : null,
        });
    }
}
