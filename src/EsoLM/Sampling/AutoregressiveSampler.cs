using EsoLM.Backends;
using EsoLM.Masks;
using EsoLM.Modeling;

namespace EsoLM.Sampling;

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
