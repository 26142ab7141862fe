using EsoLM.Backends;

namespace EsoLM.Sampling;

/// <summary>
/// A sampler made of a <see cref="DecodingStrategy"/> and its options, run by the shared engine: batching, KV caches
/// (from <see cref="SamplerOptions.KvCacheFactory"/>), token selection, EOS and committed-prefix bookkeeping, streaming
/// and cancellation. This is how a user's sampler is written: a strategy plus options, not a copy of the engine.
/// </summary>
public sealed class StrategySampler : ISampler
{
    private readonly SamplingEngine _engine;

    /// <summary>Creates the sampler (validates the options against the model).</summary>
    /// <param name="model">The network.</param>
    /// <param name="options">The shared settings (length, selection, EOS, cache factory, decoder).</param>
    /// <param name="strategy">The strategy; it belongs to this sampler from now on (do not share it with another sampler).</param>
    /// <param name="name">The sampler's short name (reported by <see cref="Name"/>).</param>
    public StrategySampler(INetwork model, SamplerOptions options, DecodingStrategy strategy, string name)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(strategy);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _engine = new SamplingEngine(model, options, strategy);
        Name = name;
    }

    /// <summary>The options.</summary>
    public SamplerOptions Options => _engine.Options;

    /// <summary>The strategy.</summary>
    public DecodingStrategy Strategy => _engine.Strategy;

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public INetwork Model => _engine.Model;

    /// <inheritdoc />
    public SamplingResult Generate(IReadOnlyList<SamplingRequest> requests, CancellationToken cancellationToken = default) =>
        _engine.Run(requests, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<SamplingUpdate> GenerateStreamingAsync(IReadOnlyList<SamplingRequest> requests, CancellationToken cancellationToken = default) =>
        _engine.RunStreaming(requests, cancellationToken);
}
