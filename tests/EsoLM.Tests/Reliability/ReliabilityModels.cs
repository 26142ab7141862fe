using System.Text.Json.Nodes;
using EsoLM.IO;
using EsoLM.Modeling;
using EsoLM.Text;

namespace EsoLM.Tests.Reliability;

/// <summary>Tiny model files for the reliability tests, and the edits a hostile user makes to them.</summary>
internal static class ReliabilityModels
{
    public static ModelConfig ByteConfig(int layers = 1, int hidden = 32, int context = 32) => new()
    {
        VocabSize = 257, MaskTokenId = 256, HiddenSize = hidden, Heads = 2, Layers = layers, CondDim = 16, ContextLength = context,
        FrequencyEmbeddingSize = 16,
    };

    /// <summary>Writes a random byte-tokenizer model (variant B, α0 = 0.5 in its metadata).</summary>
    public static string Write(string dir, ModelConfig? config = null, ulong seed = 3, Action<ModelParameters>? edit = null,
        TokenizerDescription? tokenizer = null)
    {
        var parameters = ModelParameters.CreateRandom(config ?? ByteConfig(), seed, 0.5f);
        edit?.Invoke(parameters);
        var path = Path.Combine(dir, $"m{Guid.NewGuid():N}.safetensors");
        ModelFile.Save(path, parameters, tokenizer ?? new ByteTokenizer().Describe(),
            new Dictionary<string, string> { ["esolm.objective"] = "{\"alpha0\":0.5,\"variant\":\"B\"}" });
        return path;
    }

    /// <summary>Copies a model file with its <c>esolm.config</c> metadata JSON edited (the tensors are unchanged).</summary>
    public static string WithConfig(string source, Action<JsonObject> edit)
    {
        using var reader = SafetensorsReader.Open(source);
        var meta = new Dictionary<string, string>(reader.Metadata);
        var config = JsonNode.Parse(meta[ModelFile.ConfigKey])!.AsObject();
        edit(config);
        meta[ModelFile.ConfigKey] = config.ToJsonString();
        var tensors = reader.Tensors.Select(t => new NamedTensor(t.Name, t.Shape, reader.ReadSingle(t.Name))).ToList();
        var path = Path.Combine(Path.GetDirectoryName(source)!, $"edited{Guid.NewGuid():N}.safetensors");
        SafetensorsWriter.Write(path, tensors, meta);
        return path;
    }

    /// <summary>The lines of a command's stderr.</summary>
    public static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Asserts the CLI error contract: exit code 1 and exactly one stderr line, <c>esolm: error: …</c>.</summary>
    public static string AssertOneErrorLine(int code, string stderr)
    {
        Assert.True(code == 1, $"exit code {code}; stderr: {stderr}");
        var lines = Lines(stderr);
        Assert.True(lines.Length == 1, $"expected one error line, got {lines.Length}: {stderr}");
        Assert.StartsWith("esolm: error: ", lines[0], StringComparison.Ordinal);
        return lines[0];
    }
}
