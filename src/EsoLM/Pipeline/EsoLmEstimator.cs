using EsoLM.Backends;
using EsoLM.Backends.Cpu;
using EsoLM.Hosting;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Text;
using EsoLM.Training;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Pipeline;

/// <summary>
/// Trains an Eso-LM on documents and returns an <see cref="EsoLmTransformer"/> (the model with its generation defaults).
/// This is the ML.NET-free core: the EsoLM.ML package's <c>TrainEsoLm</c> estimator reads a text column of an
/// <c>IDataView</c> and calls <see cref="Fit"/>.
/// </summary>
public sealed class EsoLmEstimator
{
    /// <summary>Creates the estimator.</summary>
    /// <param name="options">Settings; null = defaults.</param>
    public EsoLmEstimator(EsoLmEstimatorOptions? options = null)
    {
        Options = options ?? new EsoLmEstimatorOptions();
        ArgumentNullException.ThrowIfNull(Options.Trainer, nameof(options));
        ArgumentNullException.ThrowIfNull(Options.Objective, nameof(options));
        ArgumentNullException.ThrowIfNull(Options.Generation, nameof(options));
        Options.Trainer.Validate();
        Options.Objective.Validate();
    }

    /// <summary>The settings.</summary>
    public EsoLmEstimatorOptions Options { get; }

    /// <summary>The model metadata key under which <see cref="Fit"/> records the training objective (JSON, α0 and variant).</summary>
    public const string ObjectiveMetadataKey = "objective";

    /// <summary>Trains on documents.</summary>
    /// <param name="documents">Training text, one document per item.</param>
    /// <param name="progress">Receives progress every step.</param>
    /// <param name="cancellationToken">Stops training between steps.</param>
    /// <returns>The trained transformer; its model's metadata holds the objective under <see cref="ObjectiveMetadataKey"/>.</returns>
    public EsoLmTransformer Fit(IEnumerable<string> documents, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(documents);
        var docs = documents.ToList();
        if (docs.Count == 0)
        {
            throw new ArgumentException("Fit needs at least one document.", nameof(documents));
        }

        var tokenizer = Options.Tokenizer ?? CharTokenizer.FromCorpus(string.Concat(docs));
        var vocabulary = TokenizerVocabulary.Of(tokenizer);
        var config = new ModelConfig
        {
            VocabSize = vocabulary.ModelVocabularySize,
            MaskTokenId = vocabulary.ModelMaskTokenId,
            HiddenSize = Options.HiddenSize,
            Heads = Options.Heads,
            Layers = Options.Layers,
            CondDim = Options.CondDim,
            MlpRatio = Options.MlpRatio,
            ContextLength = Options.ContextLength,
            FrequencyEmbeddingSize = Math.Max(16, Options.CondDim),
        };
        config.Validate();
        var backend = Options.Backend ?? (Options.Threads is int t ? new CpuBackend(new ComputeContext(t)) : CpuBackend.Default);
        var data = TokenDataset.FromDocuments(docs, tokenizer, Options.ContextLength, Options.ValidationFraction);
        var trainer = new EsoLmTrainer(config, Options.Objective, Options.Trainer, data, backend, tokenizer.TryDescribe());
        trainer.Train(progress, null, cancellationToken);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal) { [ObjectiveMetadataKey] = Checkpoint.Describe(Options.Objective) };
        var model = new EsoLmModel(backend.Load(trainer.EmaParameters), tokenizer, metadata, TrainingDescription.FromObjective(Options.Objective, tokenizer.Describe()));
        return new EsoLmTransformer(model, Options.Generation);
    }
}
