using EsoLM.Hosting;
using EsoLM.Pipeline;
using EsoLM.Text;
using EsoLM.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EsoLM.ML;

/// <summary>
/// Wraps a trained Eso-LM as a scorer (<c>mlContext.Transforms.Text.ScoreWithEsoLm(…)</c>); <see cref="Fit"/> trains
/// nothing and returns the <see cref="EsoLmScoringTransformer"/>.
/// </summary>
public sealed class EsoLmScoringEstimator : IEstimator<EsoLmScoringTransformer>
{
    private readonly EsoLmScoringTransformer _transformer;
    private readonly ScoringStage _stage;

    internal EsoLmScoringEstimator(EsoLmModel model, EsoLmScoringOptions options)
    {
        _stage = new ScoringStage(model, options);
        _transformer = new EsoLmScoringTransformer(_stage);
    }

    /// <summary>Checks the input schema and returns the transformer.</summary>
    /// <param name="input">The data (only its schema is read).</param>
    /// <returns>The transformer.</returns>
    public EsoLmScoringTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        _stage.Bind(input.Schema);
        return _transformer;
    }

    /// <summary>The input schema plus the NELBO and perplexity columns; throws when the text column is missing or not text.</summary>
    /// <param name="inputSchema">The input schema.</param>
    /// <returns>The output schema.</returns>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => _stage.GetOutputShape(inputSchema);
}
