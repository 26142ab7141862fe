using System.Text.Json;
using EsoLM.IO;
using EsoLM.Tests.Support;
using Xunit;

namespace EsoLM.Tests.IO;

/// <summary>Reads the reference weights in shared/golden/reference (read in place, never copied).</summary>
public sealed class SafetensorsGoldenTests
{
    private static string WeightsPath => Path.Combine(SharedData.Reference, "weights.safetensors");

    private static JsonElement Config()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.Reference, "config.json")));
        return doc.RootElement.Clone();
    }

    [Fact]
    public void Golden_weights_have_every_state_dict_key_with_its_shape_in_file_order()
    {
        var config = Config();
        var keys = config.GetProperty("state_dict_keys").EnumerateArray().Select(e => e.GetString()!).ToList();
        var shapes = config.GetProperty("parameter_shapes");

        using var reader = SafetensorsReader.Open(WeightsPath);

        Assert.Equal(31, reader.Tensors.Count);
        Assert.Equal(keys, reader.Tensors.Select(t => t.Name).ToList());
        foreach (var key in keys)
        {
            Assert.True(reader.Contains(key), key);
            var info = reader.GetInfo(key);
            var expected = shapes.GetProperty(key).EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(expected, info.Shape.ToArray());
            Assert.Equal(TensorDataType.F32, info.DataType);
            Assert.Equal(expected.Aggregate(1L, (a, d) => a * d), info.ElementCount);
            Assert.Equal(info.ElementCount * 4, info.End - info.Begin);
        }
    }

    [Fact]
    public void Golden_weights_values_are_sane()
    {
        using var reader = SafetensorsReader.Open(WeightsPath);
        foreach (var info in reader.Tensors)
        {
            var values = reader.ReadSingle(info.Name);
            Assert.Equal(info.ElementCount, values.Length);
            Assert.All(values, v => Assert.True(float.IsFinite(v), $"{info.Name} has a non-finite value"));
        }

        // The three kinds of LayerNorm weight were drawn with mean 1 (std 0.2); everything else has mean 0.
        foreach (var name in new[] { "blocks.0.norm1.weight", "blocks.1.norm2.weight", "output_layer.norm_final.weight" })
        {
            var mean = reader.ReadSingle(name).Average();
            Assert.InRange(mean, 0.85, 1.15);
        }

        Assert.InRange(reader.ReadSingle("blocks.0.attn_qkv.weight").Average(), -0.05, 0.05);

        // rotary_emb.inv_freq is 10000^(-2j/head_dim) with head_dim 16.
        var invFreq = reader.ReadSingle("rotary_emb.inv_freq");
        for (var j = 0; j < invFreq.Length; j++)
        {
            Assert.Equal(Math.Pow(10000, -2.0 * j / 16), invFreq[j], 1e-6);
        }
    }

    [Fact]
    public void Golden_weights_metadata_and_span_reads_match()
    {
        using var reader = SafetensorsReader.Open(WeightsPath);
        Assert.True(reader.Metadata.ContainsKey("format"));
        Assert.True(reader.Metadata.ContainsKey("source"));
        Assert.True(reader.Metadata.ContainsKey("init"));

        var info = reader.GetInfo("vocab_embed.embedding");
        var span = new float[info.ElementCount];
        reader.ReadSingle(info.Name, span);
        Assert.Equal(reader.ReadSingle(info.Name), span);
    }

    [Fact]
    public void Golden_weights_open_from_a_stream()
    {
        using var stream = File.OpenRead(WeightsPath);
        using (var reader = SafetensorsReader.Open(stream, leaveOpen: true))
        {
            Assert.Equal(31, reader.Tensors.Count);
            Assert.Equal(64, reader.ReadSingle("blocks.1.norm1.weight").Length);
        }

        Assert.True(stream.CanRead); // leaveOpen kept it open
    }
}
