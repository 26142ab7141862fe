using Microsoft.ML;
using Microsoft.ML.Data;

namespace EsoLM.ML;

/// <summary>
/// Builds the <see cref="SchemaShape"/> columns the estimators add. <c>SchemaShape.Column</c>'s constructor is internal
/// to ML.NET, so the shapes come from ML.NET's own CustomMapping estimator, with the output columns renamed through a
/// <see cref="SchemaDefinition"/>.
/// </summary>
internal static class Shapes
{
    internal static MLContext Context { get; } = new();

    public static SchemaShape AddText(SchemaShape input, string name)
    {
        var output = SchemaDefinition.Create(typeof(TextRow));
        output[nameof(TextRow.Text)].ColumnName = name;
        return Context.Transforms.CustomMapping<EmptyRow, TextRow>(static (_, _) => { }, null, null, output).GetOutputSchema(input);
    }

    public static SchemaShape AddSingles(SchemaShape input, string first, string second)
    {
        var output = SchemaDefinition.Create(typeof(SinglesRow));
        output[nameof(SinglesRow.First)].ColumnName = first;
        output[nameof(SinglesRow.Second)].ColumnName = second;
        return Context.Transforms.CustomMapping<EmptyRow, SinglesRow>(static (_, _) => { }, null, null, output).GetOutputSchema(input);
    }

    internal sealed class TextRow
    {
        public string Text { get; set; } = string.Empty;
    }

    internal sealed class SinglesRow
    {
        public float First { get; set; }

        public float Second { get; set; }
    }
}

/// <summary>A row type with no columns (the saved placeholder of an Eso-LM stage reads and writes nothing).</summary>
internal sealed class EmptyRow
{
}
