using EsoLM.Backends;
using EsoLM.Masks;
using EsoLM.Modeling;

namespace EsoLM.Sampling;

/// <summary>
/// BD3-LM-style block diffusion: blocks of L′ tokens left to right, MDLM inside the current block (bidirectional within
/// it), earlier blocks through the KV cache. A finished block's K/V are written by folding it into the next block's
/// first pass (no extra pass).
/// </summary>
public sealed class BlockDiffusionSampler : ISampler
{
    private readonly SamplingEngine _engine;

    /// <summary>Creates the sampler.</summary>
    public BlockDiffusionSampler(INetwork model, BlockDiffusionSamplerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new BlockDiffusionSamplerOptions();
        options.Validate(model.Config);
        Options = options;
        _engine = new SamplingEngine(model, options,
            new BlockDiffusionMethod(Math.Min(options.BlockSize, options.ResolveLength(model.Config)), // a block longer than the sequence is the sequence
                options.OneTokenPerStep ? Math.Min(options.BlockSize, options.ResolveLength(model.Config)) : options.StepsPerBlock ?? Math.Min(options.BlockSize, SamplerOptions.MaxSteps), options.Schedule,
                options.OneTokenPerStep, options.MaskPolicy));
    }

    /// <summary>The options.</summary>
    public BlockDiffusionSamplerOptions Options { get; }

    /// <inheritdoc />
    public string Name => "bd3lm";

    /// <inheritdoc />
    public INetwork Model => _engine.Model;

    /// <inheritdoc />
    public SamplingResult Generate(IReadOnlyList<SamplingRequest> requests, CancellationToken cancellationToken = default) =>
        _engine.Run(requests, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<SamplingUpdate> GenerateStreamingAsync(IReadOnlyList<SamplingRequest> requests, CancellationToken cancellationToken = default) =>
        _engine.RunStreaming(requests, cancellationToken);
}
