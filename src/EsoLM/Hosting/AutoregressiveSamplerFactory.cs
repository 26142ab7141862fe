using EsoLM.Backends;
using EsoLM.Caching;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Schedules;

namespace EsoLM.Hosting;

/// <summary>Built-in <c>ar</c>: exact left-to-right generation (<see cref="AutoregressiveSampler"/>).</summary>
internal sealed class AutoregressiveSamplerFactory : ISamplerFactory
{
    /// <inheritdoc />
    public SamplerCapabilities Capabilities { get; } = new() { UsesAlphaEval = false, UsesSteps = false, RequiresSequentialMode = true };

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
            Decoder = settings.Decoder,
            TrainedVariant = settings.MaskPolicy.Variant ?? EsoLmVariant.B,
            MaskPolicy = settings.MaskPolicy.Variant is null ? settings.MaskPolicy : null,
        });
    }
}
