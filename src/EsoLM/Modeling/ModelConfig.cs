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

    /// <summary>Largest accepted <see cref="VocabSize"/> (2^24).</summary>
    public const int MaxVocabSize = 1 << 24;

    /// <summary>Largest accepted <see cref="HiddenSize"/>, <see cref="CondDim"/> and <see cref="FrequencyEmbeddingSize"/> (2^16).</summary>
    public const int MaxWidth = 1 << 16;

    /// <summary>Largest accepted <see cref="Layers"/>.</summary>
    public const int MaxLayers = 4096;

    /// <summary>Largest accepted <see cref="MlpRatio"/>.</summary>
    public const int MaxMlpRatio = 64;

    /// <summary>Largest accepted <see cref="ContextLength"/> (2^20).</summary>
    public const int MaxContextLength = 1 << 20;

    /// <summary>
    /// Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid field, its value and the limit. Besides
    /// the structural rules every size has a sane upper bound and every parameter tensor must fit one array, so a config
    /// read from an untrusted file cannot make the caller allocate without bound or overflow.
    /// </summary>
    public void Validate()
    {
        Check(VocabSize >= 2 && VocabSize <= MaxVocabSize, nameof(VocabSize), VocabSize, $"must be in [2, {MaxVocabSize}]");
        Check(MaskTokenId >= 0 && MaskTokenId < VocabSize, nameof(MaskTokenId), MaskTokenId, $"must be in [0, {VocabSize}) (the vocabulary size)");
        Check(HiddenSize >= 2 && HiddenSize <= MaxWidth, nameof(HiddenSize), HiddenSize, $"must be in [2, {MaxWidth}]");
        Check(Heads >= 1 && HiddenSize % Heads == 0, nameof(Heads), Heads, $"must divide the hidden size {HiddenSize}");
        Check(Heads >= 1 && (HiddenSize / Heads) % 2 == 0, nameof(Heads), Heads, "must leave an even head size (rotary embedding)");
        Check(Layers >= 1 && Layers <= MaxLayers, nameof(Layers), Layers, $"must be in [1, {MaxLayers}]");
        Check(CondDim >= 1 && CondDim <= MaxWidth, nameof(CondDim), CondDim, $"must be in [1, {MaxWidth}]");
        Check(MlpRatio >= 1 && MlpRatio <= MaxMlpRatio, nameof(MlpRatio), MlpRatio, $"must be in [1, {MaxMlpRatio}]");
        Check(ContextLength >= 1 && ContextLength <= MaxContextLength, nameof(ContextLength), ContextLength, $"must be in [1, {MaxContextLength}]");
        Check(LayerNormEps > 0 && float.IsFinite(LayerNormEps), nameof(LayerNormEps), LayerNormEps, "must be positive and finite");
        Check(RotaryBase > 1 && float.IsFinite(RotaryBase), nameof(RotaryBase), RotaryBase, "must be greater than 1 and finite");
        Check(FrequencyEmbeddingSize >= 2 && FrequencyEmbeddingSize % 2 == 0 && FrequencyEmbeddingSize <= MaxWidth, nameof(FrequencyEmbeddingSize),
            FrequencyEmbeddingSize, $"must be even and in [2, {MaxWidth}]");

        // Every tensor must fit one array (the widths are bounded above, so these products cannot overflow a long).
        long d = HiddenSize;
        CheckArray(nameof(VocabSize), VocabSize, (long)VocabSize * d, "vocab_embed.embedding");
        CheckArray(nameof(MlpRatio), MlpRatio, d * MlpRatio * d, "mlp.0.weight");
        CheckArray(nameof(HiddenSize), HiddenSize, 6 * d * Math.Max(CondDim, 1), "adaLN_modulation.weight");
        CheckArray(nameof(HiddenSize), HiddenSize, 3 * d * d, "attn_qkv.weight");
        CheckArray(nameof(CondDim), CondDim, (long)CondDim * Math.Max(CondDim, FrequencyEmbeddingSize), "sigma_map.mlp");
    }

    /// <summary>Total number of scalar parameters of this shape (validates first).</summary>
    public long ParameterCount()
    {
        Validate();
        long v = VocabSize, d = HiddenSize, c = CondDim, f = FrequencyEmbeddingSize, m = (long)MlpRatio * HiddenSize;
        long block = d + (3 * d * d) + (d * d) + d + (m * d) + m + (d * m) + d + (6 * d * c) + (6 * d);
        return (v * d) + (c * f) + c + (c * c) + c + (Layers * block) + d + (v * d) + v + (2 * d * c) + (2 * d);
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

    private static void CheckArray(string field, object value, long elements, string tensor) => Check(elements <= Array.MaxLength, field, value,
        $"makes the tensor '{tensor}' hold {elements} values, more than one array can ({Array.MaxLength})");

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
