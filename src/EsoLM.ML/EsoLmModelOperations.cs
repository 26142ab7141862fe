using System.Buffers.Binary;
using System.IO.Compression;
using System.Reflection;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;

namespace EsoLM.ML;

/// <summary>
/// Saving and loading pipelines that hold Eso-LM stages. <c>mlContext.Model.Save</c> works as usual and writes one zip
/// with the weights inside. Loading needs one call, <see cref="LoadWithEsoLm(ModelOperationsCatalog, string, out DataViewSchema, string?)"/>,
/// instead of <c>mlContext.Model.Load</c> (which stops with an error that names this method): ML.NET lets a package
/// outside it restore only a stateless custom mapping, so this call reads the Eso-LM entries from the zip, lets ML.NET
/// load the rest, and puts the Eso-LM stages back in place.
/// </summary>
public static class EsoLmModelOperations
{
    /// <summary>The ML.NET custom-mapping contract of the placeholder saved for every Eso-LM stage.</summary>
    public const string ContractName = "EsoLM.Stage";

    /// <summary>Name of the zip entry (in the stage's folder) that holds a stage's settings and weights.</summary>
    public const string EntryName = "EsoLM.Stage.bin";

    /// <summary>Version of the stage entry format.</summary>
    public const int FormatVersion = 1;

    private static readonly byte[] Magic = "ESOLMML\0"u8.ToArray();

    [ThreadStatic]
    private static int t_loading;

    private static readonly Lazy<ITransformer> Placeholder = new(() =>
        Shapes.Context.Transforms.CustomMapping<EmptyRow, EmptyRow>(static (_, _) => { }, ContractName)
            .Fit(Shapes.Context.Data.LoadFromEnumerable(Array.Empty<EmptyRow>())));

    private static readonly MethodInfo? SaveBinaryStream = typeof(ModelSaveContext).GetMethod("SaveBinaryStream",
        BindingFlags.Instance | BindingFlags.NonPublic, [typeof(string), typeof(Action<BinaryWriter>)]);

    internal static bool Loading => t_loading > 0;

    /// <summary>Loads a pipeline saved with <c>mlContext.Model.Save</c> that may hold Eso-LM stages.</summary>
    /// <param name="catalog"><c>mlContext.Model</c>.</param>
    /// <param name="filePath">The zip.</param>
    /// <param name="inputSchema">The input schema saved with the pipeline.</param>
    /// <param name="backend">Compute backend for the Eso-LM stages; null = the backend each stage was saved with.</param>
    /// <returns>The pipeline.</returns>
    public static ITransformer LoadWithEsoLm(this ModelOperationsCatalog catalog, string filePath, out DataViewSchema inputSchema, string? backend = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(filePath);
        using var file = File.OpenRead(filePath);
        return LoadWithEsoLm(catalog, file, out inputSchema, backend);
    }

    /// <summary>Loads a pipeline saved with <c>mlContext.Model.Save</c> that may hold Eso-LM stages.</summary>
    /// <param name="catalog"><c>mlContext.Model</c>.</param>
    /// <param name="stream">The zip (read to its end).</param>
    /// <param name="inputSchema">The input schema saved with the pipeline.</param>
    /// <param name="backend">Compute backend for the Eso-LM stages; null = the backend each stage was saved with.</param>
    /// <returns>The pipeline.</returns>
    /// <exception cref="InvalidDataException">An Eso-LM entry is damaged or the entries do not match the placeholders.</exception>
    public static ITransformer LoadWithEsoLm(this ModelOperationsCatalog catalog, Stream stream, out DataViewSchema inputSchema, string? backend = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(stream);
        if (backend is not null)
        {
            EsoLmBackends.Validate(backend, null, nameof(backend));
        }

        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        buffer.Position = 0;
        var entries = new List<byte[]>();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Read, leaveOpen: true))
        {
            foreach (var entry in zip.Entries.Where(e => e.Name == EntryName).OrderBy(e => e.FullName.Replace('\\', '/'), StringComparer.Ordinal))
            {
                using var s = entry.Open();
                using var copy = new MemoryStream();
                s.CopyTo(copy);
                entries.Add(copy.ToArray());
            }
        }

        buffer.Position = 0;
        ITransformer loaded;
        t_loading++;
        try
        {
            loaded = catalog.Load(buffer, out inputSchema);
        }
        finally
        {
            t_loading--;
        }

        var stages = new Queue<ITransformer>(entries.Select(e => ReadStage(e, backend)));
        var result = Replace(loaded, stages);
        if (stages.Count != 0)
        {
            throw new InvalidDataException($"The zip holds {entries.Count} Eso-LM entries but only {entries.Count - stages.Count} Eso-LM placeholders.");
        }

        return result;
    }

    internal static void SaveStage(ModelSaveContext ctx, EsoLmStage stage)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        if (SaveBinaryStream is null)
        {
            throw new NotSupportedException(
                $"This ML.NET version ({typeof(ModelSaveContext).Assembly.GetName().Version}) does not offer the save hook EsoLM.ML uses; save the model with EsoLmModel.Save instead.");
        }

        ((ICanSaveModel)Placeholder.Value).Save(ctx);
        try
        {
            SaveBinaryStream.Invoke(ctx, [EntryName, (Action<BinaryWriter>)(w => WriteStage(w.BaseStream, stage))]);
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            throw new NotSupportedException("ML.NET refused the Eso-LM weights entry (is the model saved to a zip with mlContext.Model.Save?).", ex.InnerException);
        }
    }

    private static void WriteStage(Stream stream, EsoLmStage stage)
    {
        var json = stage.SerializeOptions();
        using var model = new MemoryStream();
        stage.Model.Save(model);
        Span<byte> header = stackalloc byte[12];
        stream.Write(Magic);
        BinaryPrimitives.WriteInt32LittleEndian(header, FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], stage.Kind);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], json.Length);
        stream.Write(header);
        stream.Write(json);
        BinaryPrimitives.WriteInt64LittleEndian(header, model.Length);
        stream.Write(header[..8]);
        model.Position = 0;
        model.CopyTo(stream);
    }

    private static ITransformer ReadStage(byte[] bytes, string? backend)
    {
        var span = bytes.AsSpan();
        if (span.Length < Magic.Length + 12 || !span[..Magic.Length].SequenceEqual(Magic))
        {
            throw new InvalidDataException($"An '{EntryName}' entry is not an Eso-LM stage (missing the 'ESOLMML' header).");
        }

        span = span[Magic.Length..];
        int version = BinaryPrimitives.ReadInt32LittleEndian(span);
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Eso-LM stage format version {version} is not supported; this library reads version {FormatVersion}.");
        }

        int kind = BinaryPrimitives.ReadInt32LittleEndian(span[4..]);
        int jsonLength = BinaryPrimitives.ReadInt32LittleEndian(span[8..]);
        span = span[12..];
        if (jsonLength < 2 || jsonLength > span.Length - 8)
        {
            throw new InvalidDataException($"The Eso-LM stage's settings length {jsonLength} is outside [2, {span.Length - 8}].");
        }

        var json = span[..jsonLength];
        span = span[jsonLength..];
        long modelLength = BinaryPrimitives.ReadInt64LittleEndian(span);
        span = span[8..];
        if (modelLength <= 0 || modelLength != span.Length)
        {
            throw new InvalidDataException($"The Eso-LM stage's model length {modelLength} does not match the {span.Length} bytes left.");
        }

        var modelBytes = span.ToArray();
        switch (kind)
        {
            case GenerationStage.StageKind:
                {
                    var options = JsonSerializer.Deserialize<EsoLmGenerationOptions>(json) ?? throw new InvalidDataException("Empty generation settings.");
                    options.Backend = backend ?? options.Backend;
                    var model = ModelLoading.Load(modelBytes, options.Backend, options.Threads);
                    return new EsoLmTextGenerationTransformer(new GenerationStage(model, options));
                }

            case ScoringStage.StageKind:
                {
                    var options = JsonSerializer.Deserialize<EsoLmScoringOptions>(json) ?? throw new InvalidDataException("Empty scoring settings.");
                    options.Backend = backend ?? options.Backend;
                    var model = ModelLoading.Load(modelBytes, options.Backend, options.Threads);
                    return new EsoLmScoringTransformer(new ScoringStage(model, options));
                }

            default:
                throw new InvalidDataException($"Unknown Eso-LM stage kind {kind}; this library knows 1 (generation) and 2 (scoring).");
        }
    }

    private static ITransformer Replace(ITransformer transformer, Queue<ITransformer> stages)
    {
        if (transformer is CustomMappingTransformer<EmptyRow, EmptyRow>)
        {
            return stages.Count > 0 ? stages.Dequeue()
                : throw new InvalidDataException("The zip holds more Eso-LM placeholders than Eso-LM entries.");
        }

        if (transformer is not TransformerChain<ITransformer> chain)
        {
            return transformer;
        }

        var items = chain.ToArray();
        var replaced = items.Select(t => Replace(t, stages)).ToArray();
        if (items.SequenceEqual(replaced))
        {
            return chain;
        }

        var training = chain.GetModelFor(TransformerScope.Training).ToHashSet(ReferenceEqualityComparer.Instance);
        var testing = chain.GetModelFor(TransformerScope.Testing).ToHashSet(ReferenceEqualityComparer.Instance);
        var scoring = chain.GetModelFor(TransformerScope.Scoring).ToHashSet(ReferenceEqualityComparer.Instance);
        var scopes = items.Select(t =>
            (training.Contains(t) ? TransformerScope.Training : TransformerScope.None) |
            (testing.Contains(t) ? TransformerScope.Testing : TransformerScope.None) |
            (scoring.Contains(t) ? TransformerScope.Scoring : TransformerScope.None));
        return new TransformerChain<ITransformer>(replaced, scopes);
    }
}

/// <summary>
/// What ML.NET builds for an Eso-LM placeholder when a zip is loaded. Outside <see cref="EsoLmModelOperations.LoadWithEsoLm(ModelOperationsCatalog, Stream, out DataViewSchema, string?)"/>
/// it stops the load with an error that names the right call.
/// </summary>
[CustomMappingFactoryAttribute(EsoLmModelOperations.ContractName)]
internal sealed class EsoLmStageFactory : CustomMappingFactory<EmptyRow, EmptyRow>
{
    public override Action<EmptyRow, EmptyRow> GetMapping() => EsoLmModelOperations.Loading
        ? static (_, _) => { }
        : throw new InvalidOperationException(
            "This ML.NET model holds Eso-LM stages; load it with mlContext.Model.LoadWithEsoLm(path, out var schema) (namespace EsoLM.ML) instead of mlContext.Model.Load.");
}
