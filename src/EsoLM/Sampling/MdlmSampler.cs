using EsoLM.Backends;
using EsoLM.Masks;
using EsoLM.Modeling;

namespace EsoLM.Sampling;

/// <summary>
/// MDLM baseline: ancestral sampling with bidirectional attention over the whole sequence every pass, no cache
/// (meaningful for a network trained as an MDLM, i.e. bidirectionally; any network runs).
/// </summary>
public sealed class MdlmSampler : ISampler
{
    private readonly SamplingEngine _engine;

    /// <summary>Creates the sampler.</summary>
    public MdlmSampler(INetwork model, MdlmSamplerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new MdlmSamplerOptions();
        options.Validate(model.Config);
        Options = options;
        int steps = options.Steps ?? options.ResolveLength(model.Config);
        _engine = new SamplingEngine(model, options, new MdlmMethod(options.MaskPolicy ?? EsoLmMaskPolicy.Mdlm, steps, options.Schedule, options.OneTokenPerStep));
    }

    /// <summary>The options.</summary>
    public MdlmSamplerOptions Options { get; }

    /// <inheritdoc />
    public string Name => "mdlm";

    /// <inheritdoc />
    public INetwork Model => _engine.Model;

    /// <inheritdoc />
    public SamplingResult Generate(IReadOnlyList<SamplingRequest> requests, CancellationToken cancellationToken = default) =>
        _engine.Run(requests, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<SamplingUpdate> GenerateStreamingAsync(IReadOnlyList<SamplingRequest> requests, CancellationToken cancellationToken = default) =>
        _engine.RunStreaming(requests, cancellationToken);
}
