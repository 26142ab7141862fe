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

/// <summary>
/// Left-to-right generation. <see cref="AutoregressiveMode.Exact"/> is Eso-LM with α_eval = 0 (2 tokens per pass: the
/// previous token, now clean, and one mask) — the exact AR sampler of this network, which has no shift-by-one.
/// <see cref="AutoregressiveMode.OneTokenPerStepTiming"/> feeds one token per pass: the cost of the paper's
/// "AR (oracle, KV cache)" baseline, for benchmarks only (its tokens are not samples of the model).
/// </summary>
public sealed class AutoregressiveSampler : ISampler
{
    private readonly SamplingEngine _engine;

    /// <summary>Creates the sampler.</summary>
    public AutoregressiveSampler(INetwork model, AutoregressiveSamplerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new AutoregressiveSamplerOptions();
        options.Validate(model.Config);
        Options = options;
        DecodingStrategy method = options.Mode == AutoregressiveMode.Exact
            ? new EsoLmMethod(options.MaskPolicy ?? EsoLmMaskPolicy.Of(options.TrainedVariant ?? EsoLmVariant.B), true, 1, 0.0, Schedules.LogLinearSchedule.Default, null)
            : new OneTokenPerStepMethod();
        _engine = new SamplingEngine(model, options, method);
    }

    /// <summary>The options.</summary>
    public AutoregressiveSamplerOptions Options { get; }

    /// <inheritdoc />
    public string Name => Options.Mode == AutoregressiveMode.Exact ? "ar" : "ar-timing";

    /// <inheritdoc />
    public INetwork Model => _engine.Model;

    /// <inheritdoc />
    public SamplingResult Generate(IReadOnlyList<SamplingRequest> requests, CancellationToken cancellationToken = default) =>
        _engine.Run(requests, cancellationToken);

    /// <inheritdoc />
    public IAsyncEnumerable<SamplingUpdate> GenerateStreamingAsync(IReadOnlyList<SamplingRequest> requests, CancellationToken cancellationToken = default) =>
        _engine.RunStreaming(requests, cancellationToken);
}
