using EsoLM.Hosting;
using EsoLM.Pipeline;
using EsoLM.Text;
using EsoLM.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EsoLM.ML;

/// <summary>
/// Trains an Eso-LM on a text column (one document per row) and returns an <see cref="EsoLmTextGenerationTransformer"/>.
/// Created by <c>mlContext.Transforms.Text.TrainEsoLm(…)</c>. Fitting is eager (it trains); progress and cancellation come
/// from <see cref="EsoLmTrainingOptions.Progress"/>/<see cref="EsoLmTrainingOptions.CancellationToken"/> or the
/// <see cref="Fit(IDataView, IProgress{TrainingProgress}, CancellationToken)"/> overload.
/// </summary>
public sealed class EsoLmTrainingEstimator : IEstimator<EsoLmTextGenerationTransformer>
{
    private readonly EsoLmTrainingOptions _options;

    internal EsoLmTrainingEstimator(EsoLmTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    /// <summary>Trains with the options' progress sink and cancellation token.</summary>
    /// <param name="input">The training data.</param>
    /// <returns>The trained transformer.</returns>
    public EsoLmTextGenerationTransformer Fit(IDataView input) => Fit(input, _options.Progress, _options.CancellationToken);

    /// <summary>Trains, reporting progress every step; cancellation stops training between steps.</summary>
    /// <param name="input">The training data.</param>
    /// <param name="progress">Receives progress every step.</param>
    /// <param name="cancellationToken">Stops training.</param>
    /// <returns>The trained transformer.</returns>
    public EsoLmTextGenerationTransformer Fit(IDataView input, IProgress<TrainingProgress>? progress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        int text = EsoLmStage.FindText(input.Schema, _options.InputColumnName, "training text");
        var column = input.Schema[text];
        var documents = input.GetColumn<ReadOnlyMemory<char>>(column).Select(m => m.ToString()).Where(d => d.Length > 0).ToList();
        if (documents.Count == 0)
        {
            throw new ArgumentException($"Column '{column.Name}' holds no non-empty text to train on.", nameof(input));
        }

        var backend = EsoLmBackends.Create(_options.Backend, _options.Threads, nameof(EsoLmTrainingOptions.Backend));
        // Without a tokenizer: characters of the column plus an unknown-character token, so that any text can be scored later.
        var core = _options.ToCore();
        core = core with { Tokenizer = core.Tokenizer ?? CharTokenizer.FromCorpus(string.Concat(documents), withUnknownToken: true), Backend = backend };
        var trained = new EsoLmEstimator(core).Fit(documents, progress, cancellationToken);
        return new EsoLmTextGenerationTransformer(new GenerationStage(trained.Model, _options.Generation));
    }

    /// <summary>The input schema plus the generated-text column; throws when the text column is missing or not text.</summary>
    /// <param name="inputSchema">The input schema.</param>
    /// <returns>The output schema.</returns>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        EsoLmStage.CheckText(inputSchema, _options.InputColumnName, "training text");
        var g = _options.Generation;
        if (g.PromptColumnName is { } p)
        {
            EsoLmStage.CheckText(inputSchema, p, "prompt");
        }

        if (g.SeedColumnName is { } s)
        {
            EsoLmStage.CheckSeed(inputSchema, s);
        }

        return Shapes.AddText(inputSchema, g.OutputColumnName);
    }
}
