using EsoLM.IO;
using EsoLM.Modeling;
using EsoLM.Tests.Modeling;
using EsoLM.Tests.Support;
using EsoLM.Text;

namespace EsoLM.Tests.IO;

public sealed class ModelFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("esolm-modelfile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Round_trip_keeps_weights_config_tokenizer_and_metadata()
    {
        var config = CachedForwardTests.TinyConfig(vocab: 258, mask: 257);
        var parameters = ModelParameters.CreateRandom(config, 9, 0.1f);
        var tokenizer = new ByteTokenizer();
        var path = Path.Combine(_dir, "m.safetensors");
        ModelFile.Save(path, parameters, tokenizer.Describe(), new Dictionary<string, string> { ["esolm.training.alpha0"] = "0.25" });

        var loaded = ModelFile.Load(path);
        Assert.Equal(config, loaded.Config);
        for (int i = 0; i < parameters.Tensors.Count; i++)
        {
            Assert.Equal(parameters.Tensors[i].Data, loaded.Parameters.Tensors[i].Data);
        }

        Assert.Equal("0.25", loaded.Metadata["esolm.training.alpha0"]);
        var restored = loaded.CreateTokenizer();
        Assert.Equal(tokenizer.Encode("héllo wörld"), restored.Encode("héllo wörld"));
        Assert.Equal([path], Directory.GetFiles(_dir));
    }

    [Fact]
    public void Gpt2_tokenizer_travels_inside_the_file()
    {
        var tok = TokenizerFactory.FromSpec("gpt2:" + SharedData.Gpt2Vocabulary, allowSpecial: true);
        var config = CachedForwardTests.TinyConfig(vocab: 50258, mask: 50257);
        var path = Path.Combine(_dir, "gpt2.safetensors");
        ModelFile.Save(path, ModelParameters.CreateZero(config), tok.Describe());
        var restored = ModelFile.Load(path).CreateTokenizer();
        const string text = "Hello world, this is EsoLM.Net<|endoftext|>";
        Assert.Equal(tok.Encode(text), restored.Encode(text));
        Assert.Equal(50256, tok.Encode(text)[^1]);
    }

    [Fact]
    public void Reference_weights_file_is_not_a_model_file()
    {
        var ex = Assert.Throws<InvalidDataException>(() => ModelFile.Load(Path.Combine(SharedData.Reference, "weights.safetensors")));
        Assert.Contains("ReferenceImport", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reserved_metadata_keys_are_refused()
    {
        var config = CachedForwardTests.TinyConfig();
        var ex = Assert.Throws<ArgumentException>(() => ModelFile.Save(Path.Combine(_dir, "x.safetensors"), ModelParameters.CreateZero(config), null,
            new Dictionary<string, string> { [ModelFile.ConfigKey] = "{}" }));
        Assert.Contains(ModelFile.ConfigKey, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_model_file_is_a_clear_error()
    {
        var config = CachedForwardTests.TinyConfig();
        var path = Path.Combine(_dir, "t.safetensors");
        ModelFile.Save(path, ModelParameters.CreateRandom(config, 1), new ByteTokenizer().Describe());
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes.AsSpan(0, bytes.Length - 100).ToArray());
        var ex = Assert.Throws<SafetensorsFormatException>(() => ModelFile.Load(path));
        Assert.Contains("t.safetensors", ex.Message, StringComparison.Ordinal);
    }
}
