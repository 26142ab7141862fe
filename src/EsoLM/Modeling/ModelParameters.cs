using EsoLM.Randomness;

namespace EsoLM.Modeling;

/// <summary>
/// All trainable parameters of a model, in the reference <c>parameters()</c> registration order (which is also the order
/// of the EMA <c>shadow_params</c> list in reference checkpoints): embedding; sigma map (4); per block norm1, attn_qkv,
/// attn_out, norm2, mlp.0.w, mlp.0.b, mlp.2.w, mlp.2.b, adaLN.w, adaLN.b; then the output layer's norm_final, linear.w,
/// linear.b, adaLN.w, adaLN.b. Names are the reference keys, so reference weights import by name.
/// </summary>
public sealed class ModelParameters
{
    private readonly Dictionary<string, ParameterTensor> _byName;

    private ModelParameters(ModelConfig config)
    {
        config.Validate();
        Config = config;
        var list = new List<ParameterTensor>();
        foreach (var (name, shape) in Layout(config))
        {
            list.Add(new ParameterTensor(name, shape));
        }

        Tensors = list;
        _byName = list.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>The model shape these parameters belong to.</summary>
    public ModelConfig Config { get; }

    /// <summary>All tensors in registration order.</summary>
    public IReadOnlyList<ParameterTensor> Tensors { get; }

    /// <summary>Total number of scalar parameters.</summary>
    public long Count => Tensors.Sum(t => (long)t.Data.Length);

    /// <summary>The tensor with the given reference name (a <c>backbone.</c> prefix is accepted).</summary>
    public ParameterTensor this[string name]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(name);
            if (_byName.TryGetValue(StripPrefix(name), out var t))
            {
                return t;
            }

            throw new KeyNotFoundException($"The model has no parameter named '{name}'.");
        }
    }

    /// <summary>Tries to find a tensor by reference name (a <c>backbone.</c> prefix is accepted).</summary>
    public bool TryGet(string name, out ParameterTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _byName.TryGetValue(StripPrefix(name), out tensor!);
    }

    /// <summary>Zero-filled parameters of the given shape.</summary>
    public static ModelParameters CreateZero(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new ModelParameters(config);
    }

    /// <summary>
    /// Parameters drawn from a seeded normal distribution N(mean, std²): LayerNorm weights use mean 1, everything else
    /// mean 0 (the scheme of the golden vectors, which makes every path of the network matter). Deterministic in the seed.
    /// </summary>
    public static ModelParameters CreateRandom(ModelConfig config, ulong seed, float std = 0.02f)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfNegative(std);
        var p = new ModelParameters(config);
        ulong counter = 0;
        foreach (var t in p.Tensors)
        {
            float mean = t.Name.EndsWith("norm1.weight", StringComparison.Ordinal)
                || t.Name.EndsWith("norm2.weight", StringComparison.Ordinal)
                || t.Name.EndsWith("norm_final.weight", StringComparison.Ordinal) ? 1f : 0f;
            for (int i = 0; i < t.Data.Length; i++)
            {
                t.Data[i] = mean + std * (float)StandardNormal(seed, counter++);
            }
        }

        return p;
    }

    /// <summary>
    /// The reference initialisation for training from scratch (spec §5): adaLN modulations and the output linear are zero
    /// (so every block starts as the identity and the logits start uniform), LayerNorm weights are one, the embedding is
    /// U(±1/√hidden) (kaiming_uniform with a = √5), every other linear layer uses the PyTorch default U(±1/√fan_in) for
    /// weight and bias. Deterministic in the seed.
    /// </summary>
    public static ModelParameters CreateInitialized(ModelConfig config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        var p = new ModelParameters(config);
        ulong counter = 0;
        foreach (var t in p.Tensors)
        {
            string n = t.Name;
            if (n.EndsWith("norm1.weight", StringComparison.Ordinal) || n.EndsWith("norm2.weight", StringComparison.Ordinal)
                || n.EndsWith("norm_final.weight", StringComparison.Ordinal))
            {
                Array.Fill(t.Data, 1f);
                continue;
            }

            if (n.Contains("adaLN_modulation", StringComparison.Ordinal) || n.StartsWith("output_layer.linear", StringComparison.Ordinal))
            {
                continue;
            }

            // fan_in: the second dimension of a weight; a bias uses its layer's weight's fan_in.
            int fanIn = t.Shape.Count == 2 ? t.Shape[1] : p[n[..^"bias".Length] + "weight"].Shape[1];
            double bound = 1.0 / Math.Sqrt(fanIn);
            for (int i = 0; i < t.Data.Length; i++)
            {
                t.Data[i] = (float)(((CounterHash.Unit(CounterHash.Key(seed, counter++, 0x5151)) * 2) - 1) * bound);
            }
        }

        return p;
    }

    /// <summary>
    /// Builds parameters from named tensors (reference key names, with or without the <c>backbone.</c> prefix). Every
    /// parameter must be present with the shape the config implies; unknown names are an error except the rotary
    /// buffer <c>rotary_emb.inv_freq</c>, which is recomputed.
    /// </summary>
    public static ModelParameters FromNamedTensors(ModelConfig config, IEnumerable<(string Name, IReadOnlyList<int> Shape, float[] Data)> tensors)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(tensors);
        var p = new ModelParameters(config);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (rawName, shape, data) in tensors)
        {
            var name = StripPrefix(rawName);
            if (name == "rotary_emb.inv_freq")
            {
                continue;
            }

            if (!p._byName.TryGetValue(name, out var t))
            {
                throw new ArgumentException($"Tensor '{rawName}' is not a parameter of this model.", nameof(tensors));
            }

            if (!seen.Add(name))
            {
                throw new ArgumentException($"Tensor '{rawName}' is given twice.", nameof(tensors));
            }

            CopyChecked(t, shape, data, rawName);
        }

        var missing = p.Tensors.Where(t => !seen.Contains(t.Name)).Select(t => t.Name).ToList();
        if (missing.Count > 0)
        {
            throw new ArgumentException(
                $"{missing.Count} parameter(s) missing, e.g. '{missing[0]}'.", nameof(tensors));
        }

        return p;
    }

    /// <summary>
    /// Builds parameters from a plain list in registration order, e.g. the EMA <c>shadow_params</c> list of a reference
    /// checkpoint (which has no names). Each entry's shape must match the parameter at its index.
    /// </summary>
    public static ModelParameters FromParameterList(ModelConfig config, IReadOnlyList<(IReadOnlyList<int> Shape, float[] Data)> tensors)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(tensors);
        var p = new ModelParameters(config);
        if (tensors.Count != p.Tensors.Count)
        {
            throw new ArgumentException(
                $"Expected {p.Tensors.Count} tensors in registration order, got {tensors.Count}.", nameof(tensors));
        }

        for (int i = 0; i < tensors.Count; i++)
        {
            CopyChecked(p.Tensors[i], tensors[i].Shape, tensors[i].Data, $"#{i} ({p.Tensors[i].Name})");
        }

        return p;
    }

    /// <summary>Sets every value to zero (reuses the arrays; e.g. gradients before a step).</summary>
    public void Clear()
    {
        foreach (var t in Tensors)
        {
            Array.Clear(t.Data);
        }
    }

    /// <summary>Copies all values from <paramref name="source"/>, which must have the same config.</summary>
    public void CopyFrom(ModelParameters source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.Config != Config)
        {
            throw new ArgumentException("The source parameters belong to a different model config.", nameof(source));
        }

        for (int i = 0; i < Tensors.Count; i++)
        {
            source.Tensors[i].Data.CopyTo(Tensors[i].Data, 0);
        }
    }

    /// <summary>A deep copy.</summary>
    public ModelParameters Clone()
    {
        var p = new ModelParameters(Config);
        for (int i = 0; i < Tensors.Count; i++)
        {
            Tensors[i].Data.CopyTo(p.Tensors[i].Data, 0);
        }

        return p;
    }

    /// <summary>Parameter names and shapes in registration order for a config.</summary>
    public static IEnumerable<(string Name, int[] Shape)> Layout(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        int v = config.VocabSize, d = config.HiddenSize, c = config.CondDim, f = config.FrequencyEmbeddingSize, m = config.MlpHidden;
        yield return ("vocab_embed.embedding", [v, d]);
        yield return ("sigma_map.mlp.0.weight", [c, f]);
        yield return ("sigma_map.mlp.0.bias", [c]);
        yield return ("sigma_map.mlp.2.weight", [c, c]);
        yield return ("sigma_map.mlp.2.bias", [c]);
        for (int i = 0; i < config.Layers; i++)
        {
            var b = $"blocks.{i}.";
            yield return (b + "norm1.weight", [d]);
            yield return (b + "attn_qkv.weight", [3 * d, d]);
            yield return (b + "attn_out.weight", [d, d]);
            yield return (b + "norm2.weight", [d]);
            yield return (b + "mlp.0.weight", [m, d]);
            yield return (b + "mlp.0.bias", [m]);
            yield return (b + "mlp.2.weight", [d, m]);
            yield return (b + "mlp.2.bias", [d]);
            yield return (b + "adaLN_modulation.weight", [6 * d, c]);
            yield return (b + "adaLN_modulation.bias", [6 * d]);
        }

        yield return ("output_layer.norm_final.weight", [d]);
        yield return ("output_layer.linear.weight", [v, d]);
        yield return ("output_layer.linear.bias", [v]);
        yield return ("output_layer.adaLN_modulation.weight", [2 * d, c]);
        yield return ("output_layer.adaLN_modulation.bias", [2 * d]);
    }

    private static string StripPrefix(string name) =>
        name.StartsWith("backbone.", StringComparison.Ordinal) ? name["backbone.".Length..] : name;

    private static void CopyChecked(ParameterTensor t, IReadOnlyList<int> shape, float[] data, string label)
    {
        if (!shape.SequenceEqual(t.Shape))
        {
            throw new ArgumentException(
                $"Tensor {label} has shape [{string.Join(", ", shape)}] but the config requires {t.ShapeText}.");
        }

        if (data.Length != t.Data.Length)
        {
            throw new ArgumentException($"Tensor {label} has {data.Length} values but its shape needs {t.Data.Length}.");
        }

        for (int i = 0; i < data.Length; i++)
        {
            if (!float.IsFinite(data[i]))
            {
                throw new ArgumentException($"Tensor {label} holds a non-finite value ({data[i]}) at index {i}.");
            }
        }

        data.CopyTo(t.Data, 0);
    }

    /// <summary>A standard normal draw from (seed, counter) by Box–Muller on a SplitMix64 hash: order-independent.</summary>
    private static double StandardNormal(ulong seed, ulong counter)
    {
        double u1 = 1 - CounterHash.Unit(CounterHash.Key(seed, 2 * counter));
        double u2 = CounterHash.Unit(CounterHash.Key(seed, (2 * counter) + 1));
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
