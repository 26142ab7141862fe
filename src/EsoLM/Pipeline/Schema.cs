using System.Collections;
using EsoLM.Training;

namespace EsoLM.Pipeline;

/// <summary>How many values a column holds per row (ML.NET's <c>SchemaShape.Column.VectorKind</c>).</summary>
public enum EsoColumnKind
{
    /// <summary>One value.</summary>
    Scalar = 0,

    /// <summary>A fixed-length vector.</summary>
    Vector = 1,

    /// <summary>A vector whose length varies by row.</summary>
    VariableVector = 2,
}

/// <summary>One column of a schema.</summary>
/// <param name="Name">Column name.</param>
/// <param name="Kind">Scalar or vector.</param>
/// <param name="ItemType">The item type (text is <see cref="string"/>).</param>
public sealed record EsoColumn(string Name, EsoColumnKind Kind, Type ItemType);

/// <summary>An ordered list of columns (ML.NET's <c>SchemaShape</c>/<c>DataViewSchema</c> counterpart).</summary>
public sealed class EsoSchema : IReadOnlyList<EsoColumn>
{
    private readonly EsoColumn[] _columns;

    /// <summary>Creates a schema; names must be unique.</summary>
    /// <param name="columns">The columns.</param>
    public EsoSchema(IEnumerable<EsoColumn> columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        _columns = [.. columns];
        var duplicate = _columns.GroupBy(c => c.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new ArgumentException($"Column '{duplicate.Key}' appears more than once.", nameof(columns));
        }
    }

    /// <summary>The input a generator reads: <c>Prompt</c> (text).</summary>
    public static EsoSchema GenerationInput { get; } = new([new EsoColumn("Prompt", EsoColumnKind.Scalar, typeof(string))]);

    /// <inheritdoc />
    public int Count => _columns.Length;

    /// <inheritdoc />
    public EsoColumn this[int index] => _columns[index];

    /// <summary>Finds a column by name.</summary>
    /// <param name="name">The name.</param>
    /// <param name="column">The column, when found.</param>
    /// <returns>Whether it exists.</returns>
    public bool TryFind(string name, out EsoColumn column)
    {
        column = _columns.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.Ordinal))!;
        return column is not null;
    }

    /// <inheritdoc />
    public IEnumerator<EsoColumn> GetEnumerator() => ((IEnumerable<EsoColumn>)_columns).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public override string ToString() => string.Join(", ", _columns.Select(c => $"{c.Name}: {c.Kind} {c.ItemType.Name}"));
}

/// <summary>Trains a transformer (ML.NET's <c>IEstimator&lt;TTransformer&gt;</c>): eager, returns an immutable model.</summary>
/// <typeparam name="TTransformer">The trained transformer.</typeparam>
public interface IEsoEstimator<out TTransformer>
    where TTransformer : IEsoTransformer
{
    /// <summary>Trains on documents.</summary>
    /// <param name="documents">Training text, one document per item.</param>
    /// <param name="progress">Receives progress every step.</param>
    /// <param name="cancellationToken">Stops training between steps.</param>
    /// <returns>The trained transformer.</returns>
    TTransformer Fit(IEnumerable<string> documents, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>The output schema for an input schema, before any data exists; throws when the input lacks a column.</summary>
    /// <param name="inputSchema">The input schema.</param>
    /// <returns>The output schema.</returns>
    EsoSchema GetOutputSchema(EsoSchema inputSchema);
}

/// <summary>A trained, immutable generator (ML.NET's <c>ITransformer</c>): lazy transformation, sessions, persistence.</summary>
public interface IEsoTransformer
{
    /// <summary>The output schema for an input schema; throws when the input lacks a column.</summary>
    /// <param name="inputSchema">The input schema.</param>
    /// <returns>The output schema.</returns>
    EsoSchema GetOutputSchema(EsoSchema inputSchema);

    /// <summary>Writes the transformer to a stream (versioned format).</summary>
    /// <param name="stream">The destination.</param>
    void Save(Stream stream);
}
