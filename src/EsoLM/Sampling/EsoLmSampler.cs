using EsoLM.Backends;
using EsoLM.Masks;
using EsoLM.Modeling;

namespace EsoLM.Sampling;

/// <summary>
/// Eso-LM sampling (spec §4): a planned diffusion phase (random subset, random order, several tokens per step) then a
/// left-to-right sequential phase, through an exact KV cache. Variant B (default) caches both phases; variant A
/// recomputes the clean set bidirectionally during diffusion and caches the sequential phase (§4.5).
/// Known tokens (prompt / infilling) come first in the order and are encoded in the first pass.
/// </summary>
public sealed class EsoLmSampler : ISampler
{
    private readonly SamplingEngine _engine;

    /// <summary>Creates the sampler (validates the options against the model).</summary>
    public EsoLmSampler(INetwork model, EsoLmSamplerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new EsoLmSamplerOptions();
        options.Validate(model.Config);
        Options = options;
        _engine = new SamplingEngine(model, options,
            new EsoLmMethod(options.EffectiveMaskPolicy, options.UseKvCache, options.Steps, options.AlphaEval, options.Schedule, options.FixedPlan));
    }

    /// <summary>The options.</summary>
    public EsoLmSamplerOptions Options { get; }

    /// <inheritdoc />
    public string Name => Options.MaskPolicy is { Variant: null } custom ? "esolm:" + custom.Name : Options.Variant == EsoLmVariant.A ? "esolm-a" : "esolm-b";

    /// <inheritdoc />
    public INetwork Model => _engine.Model;

    /// <inheritdoc />
    public SamplingResult Generate(IReadOnlyList<SamplingRequest> requests, CancellationToken cancellationToken = default) =>
        _engine.Run(requests, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<SamplingUpdate> GenerateStreamingAsync(IReadOnlyList<SamplingRequest> requests, CancellationToken cancellationToken = default) =>
        _engine.RunStreaming(requests, cancellationToken);
}
