using System.Globalization;
using System.Text.Json;
using EsoLM.Modeling;
using EsoLM.Text;
using Microsoft.ML.Tokenizers;

namespace EsoLM.IO;

/// <summary>What a model file holds.</summary>
/// <param name="Config">The model shape.</param>
/// <param name="Parameters">The weights (for a trained model: the EMA weights, which inference uses).</param>
/// <param name="Tokenizer">The tokenizer description, when the file has one.</param>
/// <param name="Metadata">All metadata entries of the file, reserved ones included.</param>
internal sealed record ModelFileContents(
    ModelConfig Config,
    ModelParameters Parameters,
    TokenizerDescription? Tokenizer,
    IReadOnlyDictionary<string, string> Metadata)
{
    /// <summary>
    /// How the model was trained (the <c>esolm.objective</c> entry), or null when the file does not say. A custom training
    /// schedule leaves <see cref="Training.TrainingDescription.Objective"/> null (use <see cref="Training.TrainingDescription.FromMetadata"/> with a resolver).
    /// </summary>
    /// <returns>The description, or null.</returns>
    /// <exception cref="InvalidDataException">The entry is not valid.</exception>
    public Training.TrainingDescription? ReadTraining() => Training.TrainingDescription.FromMetadata(Metadata, Tokenizer);

    /// <summary>Rebuilds the tokenizer, or throws when the file has none.</summary>
    public Tokenizer CreateTokenizer() => Tokenizer is null
        ? throw new InvalidOperationException("This model file has no tokenizer description.")
        : TokenizerFactory.FromDescription(Tokenizer);
}

/// <summary>
/// The EsoLM.Net model file: ONE safetensors file whose tensors are the parameters under their reference names and whose
/// <c>__metadata__</c> holds the format tag, the model config (JSON) and the self-contained tokenizer description, so a
/// model loads with nothing else. Files are written to a temporary name and moved into place.
/// </summary>
internal static class ModelFile
{
    /// <summary>Value of the <c>format</c> metadata entry.</summary>
    public const string FormatName = "esolm";

    /// <summary>Current format version (<c>esolm.format_version</c>).</summary>
    public const int FormatVersion = 1;

    /// <summary>Metadata key of the model config JSON.</summary>
    public const string ConfigKey = "esolm.config";

    /// <summary>Metadata key of the tokenizer description JSON (<c>{"kind": …, "payload": …}</c>).</summary>
    public const string TokenizerKey = "esolm.tokenizer";

    private const string FormatKey = "format";
    private const string VersionKey = "esolm.format_version";

    /// <summary>Whether <paramref name="key"/> is one of the entries the format itself writes (format tag, version, config, tokenizer).</summary>
    internal static bool IsReserved(string key) => key is FormatKey or VersionKey or ConfigKey or TokenizerKey;

    /// <summary>Writes a model file atomically.</summary>
    /// <param name="path">Destination path.</param>
    /// <param name="parameters">The weights to store.</param>
    /// <param name="tokenizer">The tokenizer description (recommended: without it the file cannot decode text).</param>
    /// <param name="metadata">Extra string entries (e.g. training settings); reserved keys are refused.</param>
    public static void Save(string path, ModelParameters parameters, TokenizerDescription? tokenizer = null,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(parameters);
        var meta = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [FormatKey] = FormatName,
            [VersionKey] = FormatVersion.ToString(CultureInfo.InvariantCulture),
            [ConfigKey] = parameters.Config.ToJson(),
        };
        if (tokenizer is not null)
        {
            meta[TokenizerKey] = JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["kind"] = tokenizer.Kind,
                ["payload"] = tokenizer.Payload,
            });
        }

        if (metadata is not null)
        {
            foreach (var (key, value) in metadata)
            {
                if (meta.ContainsKey(key))
                {
                    throw new ArgumentException($"Metadata key '{key}' is reserved by the model file format.", nameof(metadata));
                }

                meta[key] = value;
            }
        }

        var tensors = parameters.Tensors.Select(t => new NamedTensor(t.Name, t.Shape, t.Data));
        SafetensorsWriter.Write(path, tensors, meta);
    }

    /// <summary>Loads a model file written by <see cref="Save"/>; every tensor is checked against the stored config.</summary>
    public static ModelFileContents Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var reader = SafetensorsReader.Open(path);
        var meta = reader.Metadata;
        var (config, tokenizer) = ReadHeader(path, reader);
        var parameters = ReferenceImport.FromReader(reader, config);
        return new ModelFileContents(config, parameters, tokenizer, meta);
    }

    /// <summary>
    /// Reads and checks a model file's header only (format, config, tensor shapes against the config, tokenizer
    /// description), without reading any weight: what start-up validation uses.
    /// </summary>
    internal static (ModelConfig Config, TokenizerDescription? Tokenizer, IReadOnlyDictionary<string, string> Metadata) Inspect(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var reader = SafetensorsReader.Open(path);
        var (config, tokenizer) = ReadHeader(path, reader);
        ReferenceImport.CheckShapes(reader, config);
        return (config, tokenizer, reader.Metadata);
    }

    private static (ModelConfig Config, TokenizerDescription? Tokenizer) ReadHeader(string path, SafetensorsReader reader)
    {
        var meta = reader.Metadata;
        if (!meta.TryGetValue(FormatKey, out var format) || format != FormatName || !meta.TryGetValue(ConfigKey, out var configJson))
        {
            throw new InvalidDataException(
                $"'{path}' is a safetensors file but not an EsoLM.Net model file (no '{FormatKey}: {FormatName}' and '{ConfigKey}' metadata). " +
                "To import reference weights, use ReferenceImport with a ModelConfig.");
        }

        if (meta.TryGetValue(VersionKey, out var version) && version != FormatVersion.ToString(CultureInfo.InvariantCulture))
        {
            throw new InvalidDataException($"'{path}' has model file format version {version}; this library reads version {FormatVersion}.");
        }

        ModelConfig config;
        try
        {
            config = ModelConfig.FromJson(configJson);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}': metadata '{ConfigKey}' is not a valid model config: {e.Message}", e);
        }

        TokenizerDescription? tokenizer = null;
        if (meta.TryGetValue(TokenizerKey, out var tokJson))
        {
            Dictionary<string, string>? d;
            try
            {
                d = JsonSerializer.Deserialize<Dictionary<string, string>>(tokJson);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"'{path}': metadata '{TokenizerKey}' is not valid JSON: {e.Message}", e);
            }

            if (d is null || !d.TryGetValue("kind", out var kind) || !d.TryGetValue("payload", out var payload))
            {
                throw new InvalidDataException($"'{path}': metadata '{TokenizerKey}' must be a JSON object with 'kind' and 'payload'.");
            }

            tokenizer = new TokenizerDescription(kind, payload);
        }

        return (config, tokenizer);
    }

    /// <summary>
    /// Throws <see cref="ArgumentException"/> unless a tokenizer of <paramref name="tokenizerVocabulary"/> ids can decode
    /// every id the model can emit (all ids but the mask) and produce no id the model lacks.
    /// </summary>
    internal static void CheckTokenizerCoversModel(int tokenizerVocabulary, ModelConfig config)
    {
        int needed = config.MaskTokenId == config.VocabSize - 1 ? config.VocabSize - 1 : config.VocabSize;
        if (tokenizerVocabulary < needed)
        {
            throw new ArgumentException(
                $"The tokenizer has {tokenizerVocabulary} ids but the model can emit {needed} (vocabulary {config.VocabSize}, mask id {config.MaskTokenId}): " +
                "its samples would hold ids the tokenizer cannot decode. Use the tokenizer the model was trained with.", nameof(tokenizerVocabulary));
        }

        if (tokenizerVocabulary > config.VocabSize)
        {
            throw new ArgumentException(
                $"The tokenizer has {tokenizerVocabulary} ids but the model's vocabulary holds {config.VocabSize}.", nameof(tokenizerVocabulary));
        }
    }
}
