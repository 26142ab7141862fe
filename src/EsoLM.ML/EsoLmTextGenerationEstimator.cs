using EsoLM.Hosting;
using EsoLM.Pipeline;
using EsoLM.Text;
using EsoLM.Training;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EsoLM.ML;

/// <summary>
/// Wraps an already trained Eso-LM (<c>mlContext.Transforms.Text.GenerateWithEsoLm(…)</c>); <see cref="Fit"/> trains
/// nothing and returns the <see cref="EsoLmTextGenerationTransformer"/>.
/// </summary>
public sealed class EsoLmTextGenerationEstimator : IEstimator<EsoLmTextGenerationTransformer>
{
    private readonly EsoLmTextGenerationTransformer _transformer;
    private readonly GenerationStage _stage;

    internal EsoLmTextGenerationEstimator(EsoLmModel model, EsoLmGenerationOptions options)
    {
        _stage = new GenerationStage(model, options);
        _transformer = new EsoLmTextGenerationTransformer(_stage);
    }

    /// <summary>Checks the input schema and returns the transformer.</summary>
    /// <param name="input">The data (only its schema is read).</param>
    /// <returns>The transformer.</returns>
    public EsoLmTextGenerationTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        _stage.Bind(input.Schema);
        return _transformer;
    }

    /// <summary>The input schema plus the generated-text column; throws when a named input column is missing or mistyped.</summary>
    /// <param name="inputSchema">The input schema.</param>
    /// <returns>The output schema.</returns>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => _stage.GetOutputShape(inputSchema);
}
