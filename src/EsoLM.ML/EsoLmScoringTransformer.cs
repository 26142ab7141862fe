using EsoLM.Hosting;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EsoLM.ML;

/// <summary>
/// Adds per-row likelihood columns computed by an Eso-LM: the NELBO (an upper bound on the negative log-likelihood, in
/// nats per token, end-of-text included) and the perplexity exp(NELBO), both <see cref="float"/>, so that a language
/// model's judgement of a text can feed downstream ML.NET trainers. A row's values depend only on its text, the model and
/// <see cref="EsoLmScoringOptions.Seed"/>. Lazy, batched and savable like <see cref="EsoLmTextGenerationTransformer"/>.
/// </summary>
public sealed class EsoLmScoringTransformer : ITransformer
{
    private readonly ScoringStage _stage;

    internal EsoLmScoringTransformer(ScoringStage stage) => _stage = stage;

    /// <summary>The model.</summary>
    public EsoLmModel Model => _stage.Model;

    /// <summary>The settings (a copy).</summary>
    public EsoLmScoringOptions Options => _stage.Options.Clone();

    /// <summary>Always true: the transformer maps row to row.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The input schema plus the NELBO and perplexity columns; throws when the text column is missing or not text.</summary>
    /// <param name="inputSchema">The input schema.</param>
    /// <returns>The output schema.</returns>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        _stage.Bind(inputSchema);
        return _stage.OutputSchema(inputSchema);
    }

    /// <summary>Lazily adds the NELBO and perplexity columns.</summary>
    /// <param name="input">The input data.</param>
    /// <returns>The output data.</returns>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return new EsoLmDataView(input, _stage);
    }

    /// <summary>The row-to-row mapper behind <c>CreatePredictionEngine</c>.</summary>
    /// <param name="inputSchema">The input schema.</param>
    /// <returns>The mapper.</returns>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return new RowMapping(_stage, inputSchema);
    }

    /// <summary>Called by <c>mlContext.Model.Save</c>: writes an ML.NET placeholder and the model into the zip.</summary>
    /// <param name="ctx">ML.NET's save context.</param>
    void ICanSaveModel.Save(ModelSaveContext ctx) => EsoLmModelOperations.SaveStage(ctx, _stage);
}
