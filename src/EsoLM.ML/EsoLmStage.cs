#pragma warning disable CA2208 // Schema errors name the input schema, as ML.NET's own schema checks do.
using System.Text.Json;
using EsoLM.Evaluation;
using EsoLM.Hosting;
using EsoLM.Masks;
using EsoLM.IO;
using EsoLM.Modeling;
using EsoLM.Training;
using EsoLM.Text;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EsoLM.ML;

/// <summary>Which input columns a stage reads, as indices into a bound input schema (-1 = none).</summary>
internal readonly record struct BoundInputs(int TextColumn, int SeedColumn);

/// <summary>The values a stage reads from one row.</summary>
internal readonly record struct RowInput(string Text, ulong Seed);

/// <summary>The values a stage computes for one row.</summary>
internal readonly record struct RowOutput(string? Text, float Nelbo, float Perplexity);

/// <summary>
/// What the public transformers share: a model, the added columns, input binding with early schema checks, and a batched
/// compute function. The data view, its cursors and the row mapper are written once against this.
/// </summary>
internal abstract class EsoLmStage
{
    protected EsoLmStage(EsoLmModel model) => Model = model;

    public EsoLmModel Model { get; }

    public abstract int BatchSize { get; }

    public abstract string[] OutputNames { get; }

    public abstract DataViewType[] OutputTypes { get; }

    /// <summary>The stage kind written to the saved pipeline.</summary>
    public abstract int Kind { get; }

    public abstract BoundInputs Bind(DataViewSchema schema);

    public abstract SchemaShape GetOutputShape(SchemaShape inputSchema);

    public abstract RowOutput[] Compute(IReadOnlyList<RowInput> rows);

    public abstract byte[] SerializeOptions();

    /// <summary>Whether the stage needs the row's position (for position-derived seeds).</summary>
    public virtual ulong? BaseSeed => null;

    public void Get<T>(int output, in RowOutput value, ref T destination)
    {
        object boxed = OutputTypes[output] is TextDataViewType ? (value.Text ?? string.Empty).AsMemory()
            : output == 0 ? value.Nelbo : value.Perplexity;
        destination = (T)boxed;
    }

    public DataViewSchema OutputSchema(DataViewSchema input)
    {
        var builder = new DataViewSchema.Builder();
        builder.AddColumns(input);
        for (int i = 0; i < OutputNames.Length; i++)
        {
            builder.AddColumn(OutputNames[i], OutputTypes[i]);
        }

        return builder.ToSchema();
    }

    internal static int FindText(DataViewSchema schema, string name, string role)
    {
        var column = schema.GetColumnOrNull(name) ?? throw new ArgumentOutOfRangeException("inputSchema", name,
            $"The input has no column '{name}' ({role}); its columns are: {Describe(schema)}.");
        if (column.Type is not TextDataViewType)
        {
            throw new ArgumentOutOfRangeException("inputSchema", name,
                $"Column '{name}' ({role}) must be text (String), but it is {column.Type}.");
        }

        return column.Index;
    }

    internal static void CheckText(SchemaShape shape, string name, string role)
    {
        if (!TryFind(shape, name, out var column))
        {
            throw new ArgumentOutOfRangeException("inputSchema", name,
                $"The input has no column '{name}' ({role}); its columns are: {string.Join(", ", shape.Select(c => c.Name))}.");
        }

        if (column.Kind != SchemaShape.Column.VectorKind.Scalar || column.ItemType is not TextDataViewType || column.IsKey)
        {
            throw new ArgumentOutOfRangeException("inputSchema", name,
                $"Column '{name}' ({role}) must be a scalar text (String) column, but it is {(column.Kind == SchemaShape.Column.VectorKind.Scalar ? string.Empty : "a vector of ")}{column.ItemType}.");
        }
    }

    internal static bool IsSeedType(DataViewType type) =>
        type == NumberDataViewType.Int32 || type == NumberDataViewType.Int64 || type == NumberDataViewType.UInt32 || type == NumberDataViewType.UInt64;

    internal static int FindSeed(DataViewSchema schema, string name)
    {
        var column = schema.GetColumnOrNull(name) ?? throw new ArgumentOutOfRangeException("inputSchema", name,
            $"The input has no seed column '{name}'; its columns are: {Describe(schema)}.");
        if (!IsSeedType(column.Type))
        {
            throw new ArgumentOutOfRangeException("inputSchema", name,
                $"The seed column '{name}' must be Int32, Int64, UInt32 or UInt64, but it is {column.Type}.");
        }

        return column.Index;
    }

    internal static void CheckSeed(SchemaShape shape, string name)
    {
        if (!TryFind(shape, name, out var column) || column.Kind != SchemaShape.Column.VectorKind.Scalar || !IsSeedType(column.ItemType))
        {
            throw new ArgumentOutOfRangeException("inputSchema", name,
                $"The seed column '{name}' must be a scalar Int32, Int64, UInt32 or UInt64 column.");
        }
    }

    private static bool TryFind(SchemaShape shape, string name, out SchemaShape.Column column)
    {
        foreach (var c in shape)
        {
            if (c.Name == name)
            {
                column = c;
                return true;
            }
        }

        column = default;
        return false;
    }

    private static string Describe(DataViewSchema schema) =>
        string.Join(", ", schema.Where(c => !c.IsHidden).Select(c => $"{c.Name} ({c.Type})"));
}

/// <summary>The generated-text stage.</summary>
internal sealed class GenerationStage : EsoLmStage
{
    public const int StageKind = 1;
    private readonly EsoLmGenerator _generator;

    public GenerationStage(EsoLmModel model, EsoLmGenerationOptions options)
        : base(model)
    {
        Options = options.Clone();
        Options.Validate();
        _generator = new EsoLmGenerator(model, new EsoLmOptions
        {
            Sampler = Options.Sampler,
            Steps = Options.Steps,
            AlphaEval = Options.AlphaEval,
            TopP = Options.TopP,
            Temperature = Options.Temperature,
            MaxNewTokens = Options.MaxTokens,
        });
    }

    public EsoLmGenerationOptions Options { get; }

    public override int BatchSize => Options.BatchSize;

    public override string[] OutputNames => [Options.OutputColumnName];

    public override DataViewType[] OutputTypes => [TextDataViewType.Instance];

    public override int Kind => StageKind;

    public override ulong? BaseSeed => Options.SeedColumnName is null ? Options.Seed : null;

    public override BoundInputs Bind(DataViewSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        int text = Options.PromptColumnName is { } p ? FindText(schema, p, "prompt") : -1;
        int seed = Options.SeedColumnName is { } s ? FindSeed(schema, s) : -1;
        return new BoundInputs(text, seed);
    }

    public override SchemaShape GetOutputShape(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        if (Options.PromptColumnName is { } p)
        {
            CheckText(inputSchema, p, "prompt");
        }

        if (Options.SeedColumnName is { } s)
        {
            CheckSeed(inputSchema, s);
        }

        return Shapes.AddText(inputSchema, Options.OutputColumnName);
    }

    public override RowOutput[] Compute(IReadOnlyList<RowInput> rows)
    {
        var requests = rows.Select(r => new GenerationRequest(r.Text) { Seed = r.Seed }).ToArray();
        var results = _generator.GenerateBatch(requests);
        return [.. results.Select(r => new RowOutput(r.Completion, 0, 0))];
    }

    public override byte[] SerializeOptions() => JsonSerializer.SerializeToUtf8Bytes(Options);
}

/// <summary>The NELBO / perplexity stage.</summary>
internal sealed class ScoringStage : EsoLmStage
{
    public const int StageKind = 2;

    public ScoringStage(EsoLmModel model, EsoLmScoringOptions options)
        : base(model)
    {
        Options = options.Clone();
        Options.Validate();
        var trained = model.Metadata.TryGetValue(Pipeline.EsoLmEstimator.ObjectiveMetadataKey, out var json) ? Checkpoint.ParseObjective(json) : null;
        if (Options.Alpha0 is null && trained is null)
        {
            throw new ArgumentException(
                "The model does not record the objective it was trained with; set EsoLmScoringOptions.Alpha0 (and Variant) to score with it.", nameof(options));
        }

        Objective = new ObjectiveOptions
        {
            Alpha0 = Options.Alpha0 ?? trained!.Alpha0,
            Variant = Options.Variant ?? trained?.Variant ?? EsoLmVariant.B,
            BatchSplit = trained?.BatchSplit,
        };
        Objective.Validate();
    }

    public EsoLmScoringOptions Options { get; }

    public ObjectiveOptions Objective { get; }

    public override int BatchSize => Options.BatchSize;

    public override string[] OutputNames => [Options.NelboColumnName, Options.PerplexityColumnName];

    public override DataViewType[] OutputTypes => [NumberDataViewType.Single, NumberDataViewType.Single];

    public override int Kind => StageKind;

    public override BoundInputs Bind(DataViewSchema schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        return new BoundInputs(FindText(schema, Options.InputColumnName, "text to score"), -1);
    }

    public override SchemaShape GetOutputShape(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        CheckText(inputSchema, Options.InputColumnName, "text to score");
        return Shapes.AddSingles(inputSchema, Options.NelboColumnName, Options.PerplexityColumnName);
    }

    public override RowOutput[] Compute(IReadOnlyList<RowInput> rows)
    {
        var outputs = new RowOutput[rows.Count];
        for (int i = 0; i < outputs.Length; i++)
        {
            double nelbo = Score(rows[i].Text);
            outputs[i] = new RowOutput(null, (float)nelbo, (float)Math.Exp(nelbo));
        }

        return outputs;
    }

    /// <summary>
    /// NELBO per token of one text: the text's tokens plus end-of-text, cut into rows of at most the context length, each
    /// evaluated as <see cref="EsoLmScoringOptions.Samples"/> copies (independent (t, z_t) draws) in one batch.
    /// </summary>
    internal double Score(string text)
    {
        var ids = Model.Tokenizer.Encode(text);
        if (TokenizerVocabulary.Of(Model.Tokenizer).EndOfTextId is int eos)
        {
            ids = [.. ids, eos];
        }

        if (ids.Length == 0)
        {
            return double.NaN;
        }

        int context = Model.Config.ContextLength;
        double nll = 0;
        long tokens = 0;
        for (int start = 0; start < ids.Length; start += context)
        {
            var chunk = new ReadOnlyMemory<int>(ids, start, Math.Min(context, ids.Length - start));
            var result = NelboEvaluator.Evaluate(Model.Transformer, Objective, Options.Samples, chunk.Length, _ => chunk, Options.Samples, Options.Seed);
            nll += result.NllPerToken * result.Tokens;
            tokens += result.Tokens;
        }

        return tokens == 0 ? double.NaN : nll / tokens;
    }

    public override byte[] SerializeOptions() => JsonSerializer.SerializeToUtf8Bytes(Options);
}

/// <summary>Loads a model file with the chosen backend, keeping the recorded training objective.</summary>
internal static class ModelLoading
{
    public static EsoLmModel Load(string path, string? backend, int? threads)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var compute = EsoLmBackends.Create(backend, threads, nameof(backend));
        var contents = ModelFile.Load(path);
        var metadata = contents.Metadata.Where(kv => kv.Key != "format" && !kv.Key.StartsWith("esolm.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        if (!metadata.ContainsKey(Pipeline.EsoLmEstimator.ObjectiveMetadataKey) && contents.Metadata.TryGetValue("esolm.objective", out var objective))
        {
            metadata[Pipeline.EsoLmEstimator.ObjectiveMetadataKey] = objective; // written by the CLI trainer
        }

        var training = TrainingDescription.FromMetadata(contents.Metadata, contents.Tokenizer)
            ?? (metadata.TryGetValue(Pipeline.EsoLmEstimator.ObjectiveMetadataKey, out var json) ? TrainingDescription.Parse(json, contents.Tokenizer) : null);
        return new EsoLmModel(compute.Load(contents.Parameters), contents.CreateTokenizer(), metadata, training);
    }

    public static EsoLmModel Load(byte[] bytes, string? backend, int? threads)
    {
        var temp = Path.Combine(Path.GetTempPath(), $"esolm-ml-{Guid.NewGuid():N}.safetensors");
        try
        {
            File.WriteAllBytes(temp, bytes);
            return Load(temp, backend, threads);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
