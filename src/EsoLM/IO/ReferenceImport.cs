using EsoLM.Modeling;

namespace EsoLM.IO;

/// <summary>
/// Imports weights exported from the reference PyTorch implementation. Tensors are matched by their state-dict key,
/// with or without the Lightning <c>backbone.</c> prefix; an EMA <c>shadow_params</c> list (no names) is matched by
/// parameter-registration order. Use the EMA weights for sampling and evaluation (spec §5).
/// </summary>
public static class ReferenceImport
{
    /// <summary>Loads every parameter of <paramref name="config"/> from a safetensors file, by key name.</summary>
    public static ModelParameters LoadSafetensors(string path, ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(config);
        using var reader = SafetensorsReader.Open(path);
        return FromReader(reader, config);
    }

    /// <summary>Loads every parameter of <paramref name="config"/> from an open safetensors reader, by key name.</summary>
    internal static ModelParameters FromReader(SafetensorsReader reader, ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(config);
        CheckShapes(reader, config);
        var wanted = ModelParameters.Layout(config).Select(x => x.Name).ToHashSet(StringComparer.Ordinal);
        var picked = new List<(string, IReadOnlyList<int>, float[])>();
        foreach (var info in reader.Tensors)
        {
            var name = info.Name.StartsWith("backbone.", StringComparison.Ordinal) ? info.Name["backbone.".Length..] : info.Name;
            if (wanted.Contains(name))
            {
                picked.Add((info.Name, info.Shape, reader.ReadSingle(info.Name)));
            }
        }

        return ModelParameters.FromNamedTensors(config, picked);
    }

    /// <summary>
    /// Loads an EMA parameter list stored as tensors named <paramref name="prefix"/>0, <paramref name="prefix"/>1, … in
    /// registration order (how a converter writes the reference checkpoint's <c>ema.shadow_params</c> list).
    /// </summary>
    internal static ModelParameters FromParameterList(SafetensorsReader reader, ModelConfig config, string prefix = "ema.shadow_params.")
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(prefix);
        int count = ModelParameters.Layout(config).Count();
        var list = new List<(IReadOnlyList<int>, float[])>(count);
        for (int i = 0; i < count; i++)
        {
            var name = prefix + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!reader.Contains(name))
            {
                throw new ArgumentException($"The file has no tensor '{name}' (expected {count} EMA tensors named {prefix}0..{count - 1}).", nameof(reader));
            }

            list.Add((reader.GetInfo(name).Shape, reader.ReadSingle(name)));
        }

        return ModelParameters.FromParameterList(config, list);
    }

    /// <summary>
    /// Compares every tensor the config implies with the file's header (name, shape) before any weight is allocated, so
    /// a config that claims more than the file stores fails at once, naming the tensor and the config.
    /// </summary>
    internal static void CheckShapes(SafetensorsReader reader, ModelConfig config, string prefix = "")
    {
        config.Validate();
        var stored = new Dictionary<string, IReadOnlyList<int>>(StringComparer.Ordinal);
        foreach (var info in reader.Tensors)
        {
            var name = info.Name.StartsWith("backbone.", StringComparison.Ordinal) ? info.Name["backbone.".Length..] : info.Name;
            if (name.StartsWith(prefix, StringComparison.Ordinal))
            {
                stored.TryAdd(name[prefix.Length..], info.Shape);
            }
        }

        foreach (var (name, shape) in ModelParameters.Layout(config))
        {
            if (!stored.TryGetValue(name, out var have))
            {
                throw new InvalidDataException(
                    $"The model config (Layers = {config.Layers}, HiddenSize = {config.HiddenSize}, VocabSize = {config.VocabSize}) needs tensor '{prefix}{name}', " +
                    $"which the file does not have ({stored.Count} tensors stored).");
            }

            if (!have.SequenceEqual(shape))
            {
                throw new InvalidDataException(
                    $"Tensor '{prefix}{name}' is stored with shape [{string.Join(", ", have)}] but the model config (HiddenSize = {config.HiddenSize}, " +
                    $"VocabSize = {config.VocabSize}, CondDim = {config.CondDim}, MlpRatio = {config.MlpRatio}) requires [{string.Join(", ", shape)}].");
            }
        }
    }
}
