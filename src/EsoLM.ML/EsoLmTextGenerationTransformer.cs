using EsoLM.Hosting;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EsoLM.ML;

/// <summary>
/// Adds a generated-text column: for each row, an Eso-LM completes the row's prompt (or generates unconditionally when
/// there is no prompt column) with the row's seed. <see cref="Transform"/> is lazy and generates rows in batches as a
/// cursor reaches them; <c>CreatePredictionEngine</c> generates one row per call. Saved with <c>mlContext.Model.Save</c>
/// (the weights go into the zip); load with <see cref="EsoLmModelOperations.LoadWithEsoLm(ModelOperationsCatalog, string, out DataViewSchema, string?)"/>.
/// </summary>
public sealed class EsoLmTextGenerationTransformer : ITransformer
{
    private readonly GenerationStage _stage;

    internal EsoLmTextGenerationTransformer(GenerationStage stage) => _stage = stage;

    /// <summary>The model (shareable, e.g. with <c>ScoreWithEsoLm</c>; <c>Model.Save(path)</c> writes a model file).</summary>
    public EsoLmModel Model => _stage.Model;

    /// <summary>The settings (a copy).</summary>
    public EsoLmGenerationOptions Options => _stage.Options.Clone();

    /// <summary>Always true: the transformer maps row to row.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>The input schema plus the generated-text column; throws when a named input column is missing or not of the right type.</summary>
    /// <param name="inputSchema">The input schema.</param>
    /// <returns>The output schema.</returns>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        _stage.Bind(inputSchema);
        return _stage.OutputSchema(inputSchema);
    }

    /// <summary>Lazily adds the generated-text column (nothing is generated until a cursor reads it).</summary>
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
