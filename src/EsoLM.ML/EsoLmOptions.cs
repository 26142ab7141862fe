#pragma warning disable CA2208 // Errors name the offending option, which is a property, not a parameter.
using EsoLM.Masks;
using EsoLM.Text;
using EsoLM.Training;

namespace EsoLM.ML;

/// <summary>
/// Settings of the generated-text column (<see cref="EsoLmTextGenerationTransformer"/>): which columns it reads, how it
/// samples. Also the <see cref="EsoLmTrainingOptions.Generation"/> settings of a trained model.
/// </summary>
public sealed class EsoLmGenerationOptions
{
    /// <summary>Name of the added text column.</summary>
    public string OutputColumnName { get; set; } = "GeneratedText";

    /// <summary>A text column whose value prompts each row's generation; null = unconditional generation.</summary>
    public string? PromptColumnName { get; set; }

    /// <summary>An integer column holding each row's seed; null = <see cref="Seed"/> + the row's position.</summary>
    public string? SeedColumnName { get; set; }

    /// <summary>The base seed used when there is no seed column.</summary>
    public ulong Seed { get; set; }

    /// <summary>Sampler key: <c>esolm</c> (default), <c>mdlm</c>, <c>bd3</c>, <c>ar</c>.</summary>
    public string Sampler { get; set; } = "esolm";

    /// <summary>Diffusion-phase steps T; null = one per generated token.</summary>
    public int? Steps { get; set; }

    /// <summary>α_eval ∈ [0, 1]: expected fraction of tokens decoded by diffusion (0 = left to right, 1 = pure diffusion).</summary>
    public double AlphaEval { get; set; } = 1.0;

    /// <summary>Nucleus mass p ∈ (0, 1]; 1 = off.</summary>
    public double TopP { get; set; } = 1.0;

    /// <summary>Softmax temperature (&gt; 0).</summary>
    public double Temperature { get; set; } = 1.0;

    /// <summary>Tokens to generate after the prompt; null = fill the model's context.</summary>
    public int? MaxTokens { get; set; }

    /// <summary>Rows a cursor generates together (one sampler batch per distinct setting).</summary>
    public int BatchSize { get; set; } = 16;

    /// <summary>Compute backend: <c>auto</c>/<c>cpu</c>, or a registered name such as <c>torch:cuda</c> (<see cref="EsoLmBackends"/>); applies when the model is read from a file or a saved pipeline.</summary>
    public string Backend { get; set; } = EsoLmBackends.Auto;

    /// <summary>Kernel threads; null = all cores.</summary>
    public int? Threads { get; set; }

    /// <summary>A copy.</summary>
    /// <returns>A new instance with the same values.</returns>
    public EsoLmGenerationOptions Clone() => (EsoLmGenerationOptions)MemberwiseClone();

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(OutputColumnName, nameof(OutputColumnName));
        ArgumentException.ThrowIfNullOrWhiteSpace(Sampler, nameof(Sampler));
        if (Steps is int s)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(s, 1, nameof(Steps));
        }

        if (!(AlphaEval >= 0 && AlphaEval <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(AlphaEval), AlphaEval, "AlphaEval must be in [0, 1].");
        }

        if (!(TopP > 0 && TopP <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "TopP must be in (0, 1].");
        }

        if (!(Temperature > 0 && double.IsFinite(Temperature)))
        {
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be positive and finite.");
        }

        if (MaxTokens is int m)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(m, 1, nameof(MaxTokens));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1, nameof(BatchSize));
        EsoLmBackends.Validate(Backend, Threads, nameof(Backend));
    }
}

/// <summary>Settings of the per-row likelihood columns (<see cref="EsoLmScoringTransformer"/>).</summary>
public sealed class EsoLmScoringOptions
{
    /// <summary>The text column to score.</summary>
    public string InputColumnName { get; set; } = "Text";

    /// <summary>Name of the added NELBO column (nats per token, <see cref="float"/>).</summary>
    public string NelboColumnName { get; set; } = "Nelbo";

    /// <summary>Name of the added perplexity column (exp(NELBO), <see cref="float"/>).</summary>
    public string PerplexityColumnName { get; set; } = "Perplexity";

    /// <summary>α0 of the objective; null = the value the model was trained with (recorded in its metadata).</summary>
    public double? Alpha0 { get; set; }

    /// <summary>Attention variant of the objective; null = the one the model was trained with.</summary>
    public EsoLmVariant? Variant { get; set; }

    /// <summary>Monte-Carlo draws of (t, z_t) per row, evaluated as one batch; more draws give a steadier estimate.</summary>
    public int Samples { get; set; } = 8;

    /// <summary>Seed of the draws (a row's value depends only on its text, the model and this seed).</summary>
    public ulong Seed { get; set; } = 1;

    /// <summary>Rows a cursor reads ahead and scores together.</summary>
    public int BatchSize { get; set; } = 16;

    /// <summary>Compute backend: <c>auto</c>/<c>cpu</c>, or a registered name such as <c>torch:cuda</c> (<see cref="EsoLmBackends"/>); applies when the model is read from a file or a saved pipeline.</summary>
    public string Backend { get; set; } = EsoLmBackends.Auto;

    /// <summary>Kernel threads; null = all cores.</summary>
    public int? Threads { get; set; }

    /// <summary>A copy.</summary>
    /// <returns>A new instance with the same values.</returns>
    public EsoLmScoringOptions Clone() => (EsoLmScoringOptions)MemberwiseClone();

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(InputColumnName, nameof(InputColumnName));
        ArgumentException.ThrowIfNullOrWhiteSpace(NelboColumnName, nameof(NelboColumnName));
        ArgumentException.ThrowIfNullOrWhiteSpace(PerplexityColumnName, nameof(PerplexityColumnName));
        if (NelboColumnName == PerplexityColumnName)
        {
            throw new ArgumentException($"The NELBO and perplexity columns need different names (both are '{NelboColumnName}').", nameof(PerplexityColumnName));
        }

        if (Alpha0 is double a && !(a >= 0 && a <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Alpha0), a, "α0 must be in [0, 1].");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(Samples, 1, nameof(Samples));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Samples, 4096, nameof(Samples));
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1, nameof(BatchSize));
        EsoLmBackends.Validate(Backend, Threads, nameof(Backend));
    }
}

/// <summary>
/// Settings of <see cref="EsoLmTrainingEstimator"/>: the text column, the network shape, the objective, the training
/// run, and the <see cref="Generation"/> settings of the transformer it returns.
/// </summary>
public sealed class EsoLmTrainingOptions
{
    /// <summary>The text column to train on (one document per row).</summary>
    public string InputColumnName { get; set; } = "Text";

    /// <summary>Settings of the returned transformer's generated-text column.</summary>
    public EsoLmGenerationOptions Generation { get; set; } = new();

    /// <summary>The tokenizer; null builds a character tokenizer (with an unknown-character token) from the column.</summary>
    public Microsoft.ML.Tokenizers.Tokenizer? Tokenizer { get; set; }

    /// <summary>Architecture: context length L (training rows and generation length).</summary>
    public int ContextLength { get; set; } = 64;

    /// <summary>Architecture: hidden size.</summary>
    public int HiddenSize { get; set; } = 64;

    /// <summary>Architecture: attention heads (must divide <see cref="HiddenSize"/>).</summary>
    public int Heads { get; set; } = 4;

    /// <summary>Architecture: transformer blocks.</summary>
    public int Layers { get; set; } = 2;

    /// <summary>Architecture: conditioning width.</summary>
    public int CondDim { get; set; } = 32;

    /// <summary>Architecture: MLP expansion ratio.</summary>
    public int MlpRatio { get; set; } = 4;

    /// <summary>α0 ∈ [0, 1]: the expected fraction of tokens generated by diffusion (0 = AR, 1 = masked diffusion).</summary>
    public double Alpha0 { get; set; } = 0.5;

    /// <summary>Attention variant (B: causal everywhere; A; Mdlm: the bidirectional baseline, α0 = 1 only).</summary>
    public EsoLmVariant Variant { get; set; } = EsoLmVariant.B;

    /// <summary>Optimizer steps.</summary>
    public int Steps { get; set; } = 200;

    /// <summary>Rows per training batch.</summary>
    public int BatchSize { get; set; } = 16;

    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; set; } = 3e-3;

    /// <summary>Linear warm-up steps.</summary>
    public int WarmupSteps { get; set; } = 20;

    /// <summary>Seed of data order, corruption and initialisation.</summary>
    public ulong Seed { get; set; } = 1;

    /// <summary>Fraction of rows held out for validation.</summary>
    public double ValidationFraction { get; set; } = 0.05;

    /// <summary>Compute backend to train on: <c>auto</c>/<c>cpu</c>, or a registered name such as <c>torch:cuda</c> (<see cref="EsoLmBackends"/>); the trained model stays on it.</summary>
    public string Backend { get; set; } = EsoLmBackends.Auto;

    /// <summary>Kernel threads; null = all cores.</summary>
    public int? Threads { get; set; }

    /// <summary>Receives progress every training step (also when the estimator is fitted inside a pipeline).</summary>
    public IProgress<TrainingProgress>? Progress { get; set; }

    /// <summary>Stops training between steps (also when the estimator is fitted inside a pipeline).</summary>
    public CancellationToken CancellationToken { get; set; }

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(InputColumnName, nameof(InputColumnName));
        ArgumentNullException.ThrowIfNull(Generation, nameof(Generation));
        Generation.Validate();
        EsoLmBackends.Validate(Backend, Threads, nameof(Backend));
        ToCore().Trainer.Validate();
        ToCore().Objective.Validate();
    }

    internal Pipeline.EsoLmEstimatorOptions ToCore() => new()
    {
        Tokenizer = Tokenizer,
        ContextLength = ContextLength,
        HiddenSize = HiddenSize,
        Heads = Heads,
        Layers = Layers,
        CondDim = CondDim,
        MlpRatio = MlpRatio,
        ValidationFraction = ValidationFraction,
        Threads = Threads,
        Trainer = new TrainerOptions { Steps = Steps, BatchSize = BatchSize, LearningRate = LearningRate, WarmupSteps = WarmupSteps, Seed = Seed },
        Objective = new ObjectiveOptions { Alpha0 = Alpha0, Variant = Variant },
    };
}
