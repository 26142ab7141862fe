using System.Text.Json;
using System.Text.Json.Serialization;

namespace EsoLM.Modeling;

/// <summary>
/// Shape of an Eso-LM DiT (spec §5). Immutable; <see cref="Validate"/> is called by every consumer, so an invalid
/// config fails with a message naming the field, the value and the limit.
/// </summary>
public sealed record ModelConfig
{
    /// <summary>Number of token ids, including the mask id.</summary>
    public required int VocabSize { get; init; }

    /// <summary>The mask token id. It may be anywhere in [0, <see cref="VocabSize"/>); it is not assumed to be the last id.</summary>
    public required int MaskTokenId { get; init; }

    /// <summary>Width of the residual stream.</summary>
    public required int HiddenSize { get; init; }

    /// <summary>Number of attention heads; <see cref="HiddenSize"/> must be a multiple of it and the head size even.</summary>
    public required int Heads { get; init; }

    /// <summary>Number of transformer blocks.</summary>
    public required int Layers { get; init; }

    /// <summary>Width of the (constant) adaLN conditioning vector.</summary>
    public int CondDim { get; init; } = 128;

    /// <summary>MLP hidden width as a multiple of <see cref="HiddenSize"/>.</summary>
    public int MlpRatio { get; init; } = 4;

    /// <summary>Maximum sequence length L (positions 0..L−1). The sequential (2L) training input uses L positions twice.</summary>
    public required int ContextLength { get; init; }

    /// <summary>LayerNorm epsilon.</summary>
    public float LayerNormEps { get; init; } = 1e-5f;

    /// <summary>Rotary embedding base.</summary>
    public float RotaryBase { get; init; } = 10000f;

    /// <summary>Size of the sinusoidal time embedding fed to the sigma map (256 in the reference).</summary>
    public int FrequencyEmbeddingSize { get; init; } = 256;

    /// <summary>Head dimension.</summary>
    [JsonIgnore]
    public int HeadDim => HiddenSize / Heads;

    /// <summary>MLP hidden width.</summary>
    [JsonIgnore]
    public int MlpHidden => HiddenSize * MlpRatio;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid field.</summary>
    public void Validate()
    {
        Check(VocabSize >= 2, nameof(VocabSize), VocabSize, "must be at least 2");
        Check(MaskTokenId >= 0 && MaskTokenId < VocabSize, nameof(MaskTokenId), MaskTokenId, $"must be in [0, {VocabSize}) (the vocabulary size)");
        Check(HiddenSize >= 2, nameof(HiddenSize), HiddenSize, "must be at least 2");
        Check(Heads >= 1 && HiddenSize % Heads == 0, nameof(Heads), Heads, $"must divide the hidden size {HiddenSize}");
        Check(Heads >= 1 && (HiddenSize / Heads) % 2 == 0, nameof(Heads), Heads, "must leave an even head size (rotary embedding)");
        Check(Layers >= 1, nameof(Layers), Layers, "must be at least 1");
        Check(CondDim >= 1, nameof(CondDim), CondDim, "must be at least 1");
        Check(MlpRatio >= 1, nameof(MlpRatio), MlpRatio, "must be at least 1");
        Check(ContextLength >= 1 && ContextLength <= 1 << 20, nameof(ContextLength), ContextLength, "must be in [1, 1048576]");
        Check(LayerNormEps > 0 && float.IsFinite(LayerNormEps), nameof(LayerNormEps), LayerNormEps, "must be positive and finite");
        Check(RotaryBase > 1 && float.IsFinite(RotaryBase), nameof(RotaryBase), RotaryBase, "must be greater than 1 and finite");
        Check(FrequencyEmbeddingSize >= 2 && FrequencyEmbeddingSize % 2 == 0, nameof(FrequencyEmbeddingSize), FrequencyEmbeddingSize, "must be even and at least 2");
    }

    /// <summary>Serialises the config as JSON (the form stored in model files).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, ModelConfigJson.Default.ModelConfig);

    /// <summary>Parses a config written by <see cref="ToJson"/> and validates it.</summary>
    public static ModelConfig FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var config = JsonSerializer.Deserialize(json, ModelConfigJson.Default.ModelConfig)
            ?? throw new ArgumentException("The model config JSON is null.", nameof(json));
        config.Validate();
        return config;
    }

    /// <summary>
    /// Reads the reference implementation's <c>config.json</c> (the golden-vector format: <c>vocab_size</c>,
    /// <c>mask_token_id</c>, <c>hidden_size</c>, <c>n_heads</c>, <c>n_blocks</c>, <c>cond_dim</c>, <c>mlp_ratio</c>,
    /// <c>length</c>, optional <c>layer_norm_eps</c>, <c>rotary_base</c>, <c>frequency_embedding_size</c>).
    /// </summary>
    public static ModelConfig FromReferenceJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        using var doc = JsonDocument.Parse(json);
        var r = doc.RootElement;
        int Int(string name) => r.TryGetProperty(name, out var v) ? v.GetInt32()
            : throw new ArgumentException($"The reference config has no '{name}' field.", nameof(json));
        var config = new ModelConfig
        {
            VocabSize = Int("vocab_size"),
            MaskTokenId = Int("mask_token_id"),
            HiddenSize = Int("hidden_size"),
            Heads = Int("n_heads"),
            Layers = Int("n_blocks"),
            CondDim = Int("cond_dim"),
            MlpRatio = Int("mlp_ratio"),
            ContextLength = Int("length"),
            LayerNormEps = r.TryGetProperty("layer_norm_eps", out var eps) ? eps.GetSingle() : 1e-5f,
            RotaryBase = r.TryGetProperty("rotary_base", out var rb) ? rb.GetSingle() : 10000f,
            FrequencyEmbeddingSize = r.TryGetProperty("frequency_embedding_size", out var fe) ? fe.GetInt32() : 256,
        };
        config.Validate();
        return config;
    }

    private static void Check(bool ok, string field, object value, string rule)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(field, value, $"ModelConfig.{field} = {value} {rule}.");
        }
    }
}

/// <summary>Source-generated JSON for <see cref="ModelConfig"/> (trim/AOT safe).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = false)]
[JsonSerializable(typeof(ModelConfig))]
internal sealed partial class ModelConfigJson : JsonSerializerContext;
