using EsoLM.Backends;
using EsoLM.Sampling;

namespace EsoLM.Hosting;

/// <summary>
/// Registers a <see cref="DecodingStrategy"/> as a sampler: each sampler it creates is a <see cref="StrategySampler"/>
/// over a new strategy from <c>createStrategy</c>, with the shared settings (length, token selection, EOS, the selected
/// mask policy and KV cache factory) taken from the <see cref="GenerationSettings"/>. Register it with
/// <c>builder.AddStrategy("name", settings =&gt; new MyStrategy(…))</c>.
/// </summary>
internal sealed class StrategySamplerFactory : ISamplerFactory
{
    private readonly Func<GenerationSettings, DecodingStrategy> _createStrategy;

    /// <summary>Creates the factory.</summary>
    /// <param name="name">The samplers' name (<see cref="ISampler.Name"/>).</param>
    /// <param name="createStrategy">Creates a strategy for the settings (called once per sampler; must be thread-safe).</param>
    /// <param name="capabilities">What the strategy uses and needs; null = <see cref="SamplerCapabilities.Default"/>.</param>
    public StrategySamplerFactory(string name, Func<GenerationSettings, DecodingStrategy> createStrategy, SamplerCapabilities? capabilities = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(createStrategy);
        Name = name;
        _createStrategy = createStrategy;
        Capabilities = capabilities ?? SamplerCapabilities.Default;
    }

    /// <summary>The samplers' name.</summary>
    public string Name { get; }

    /// <inheritdoc />
    public SamplerCapabilities Capabilities { get; }

    /// <inheritdoc />
    public ISampler Create(INetwork model, GenerationSettings settings)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        var strategy = _createStrategy(settings)
            ?? throw new InvalidOperationException($"The strategy factory of sampler '{Name}' returned null.");
        return new StrategySampler(model, new SamplerOptions
        {
            Length = settings.Length,
            Selection = settings.Selection,
            EosTokenId = settings.EosTokenId,
            MaskPolicy = settings.MaskPolicy,
            KvCacheFactory = settings.KvCache,
            Decoder = settings.Decoder,
        }, strategy, Name);
    }
}
