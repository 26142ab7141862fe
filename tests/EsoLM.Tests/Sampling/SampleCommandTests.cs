using EsoLM.Tests.Support;
using System.Text.Json;
using EsoLM.IO;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Tests.Text;
using EsoLM.Text;

namespace EsoLM.Tests.Sampling;

/// <summary><c>esolm sample</c> in-process on a tiny byte-tokenizer model written with <see cref="ModelFile.Save"/>.</summary>
[Collection(ConsoleRedirection.Name)]
public sealed class SampleCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("esolm-sample-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string TinyModel(string? objective = "{\"alpha0\":0.5,\"variant\":\"A\"}", int context = 24)
    {
        var tokenizer = new ByteTokenizer();
        var config = new ModelConfig
        {
            VocabSize = tokenizer.VocabularySize + 1, MaskTokenId = tokenizer.VocabularySize, HiddenSize = 32, Heads = 2, Layers = 1, CondDim = 16,
            ContextLength = context,
        };
        var path = Path.Combine(_dir, $"m{Guid.NewGuid():N}.safetensors");
        var meta = objective is null ? null : new Dictionary<string, string> { ["esolm.objective"] = objective };
        ModelFile.Save(path, ModelParameters.CreateRandom(config, 3, 0.5f), tokenizer.Describe(), meta);
        return path;
    }

    [Theory]
    [InlineData("esolm")]
    [InlineData("mdlm")]
    [InlineData("bd3")]
    [InlineData("ar")]
    public void Json_line_has_samples_nfe_speed_and_keeps_the_prompt(string sampler)
    {
        var model = TinyModel(objective: null); // no training description: every sampler may run it
        var (code, stdout, stderr) = Run("sample", "--model", model, "--sampler", sampler, "--count", "3", "--length", "16", "--prompt", "hi",
            "--top-p", "0.9", "--seed", "5", "--json", "--block", "4", "--steps", "4");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout.Trim());
        var root = doc.RootElement;
        var samples = root.GetProperty("samples").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(3, samples.Length);
        Assert.All(samples, t => Assert.StartsWith("hi", t, StringComparison.Ordinal));
        Assert.True(root.GetProperty("nfe").GetInt32() > 0);
        Assert.True(root.GetProperty("tokens_per_second").GetDouble() > 0);
        Assert.True(root.GetProperty("seconds").GetDouble() > 0);

        // Same seed, same samples.
        var (_, again, _) = Run("sample", "--model", model, "--sampler", sampler, "--count", "3", "--length", "16", "--prompt", "hi",
            "--top-p", "0.9", "--seed", "5", "--json", "--block", "4", "--steps", "4");
        using var doc2 = JsonDocument.Parse(again.Trim());
        Assert.Equal(samples, doc2.RootElement.GetProperty("samples").EnumerateArray().Select(e => e.GetString()!).ToArray());
    }

    [Fact]
    public void Text_streams_to_stdout_and_defaults_come_from_the_metadata()
    {
        var model = TinyModel();
        var (code, stdout, stderr) = Run("sample", "--model", model, "--prompt", "ab", "--greedy");
        Assert.True(code == 0, stderr);
        Assert.StartsWith("ab", stdout, StringComparison.Ordinal);
        Assert.Contains("esolm-a", stderr, StringComparison.Ordinal); // variant A from esolm.objective

        var (code2, stdout2, stderr2) = Run("sample", "--model", model, "--count", "2", "--length", "8");
        Assert.True(code2 == 0, stderr2);
        Assert.Equal(2, stdout2.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.StartsWith('[')));
    }

    [Fact]
    public void Variant_mismatch_is_refused_unless_allowed_then_warned()
    {
        var model = TinyModel();
        var (code, stdout, stderr) = Run("sample", "--model", model, "--variant", "B", "--length", "8");
        Assert.NotEqual(0, code);
        Assert.Empty(stdout);
        Assert.Contains("--allow-variant-mismatch", stderr, StringComparison.Ordinal);

        var (ok, _, warn) = Run("sample", "--model", model, "--variant", "B", "--length", "8", "--allow-variant-mismatch", "--json");
        Assert.Equal(0, ok);
        Assert.Contains("warning", warn, StringComparison.Ordinal);

        // The MDLM and BD3 samplers' bidirectional attention is not what a variant-A model was trained with either.
        foreach (var other in new[] { "mdlm", "bd3" })
        {
            var (refused, noOut, why) = Run("sample", "--model", model, "--sampler", other, "--length", "8", "--block", "4");
            Assert.NotEqual(0, refused);
            Assert.Empty(noOut);
            Assert.Contains("esolm-a", why, StringComparison.Ordinal);
            Assert.Contains("--allow-variant-mismatch", why, StringComparison.Ordinal);
            Assert.Equal(0, Run("sample", "--model", model, "--sampler", other, "--length", "8", "--block", "4", "--allow-variant-mismatch", "--json").Code);
        }

        // An MDLM baseline model is sampled by the MDLM sampler by default and refuses the Eso-LM one.
        var mdlm = TinyModel("{\"alpha0\":1,\"variant\":\"Mdlm\"}");
        var (mcode, mout, merr) = Run("sample", "--model", mdlm, "--length", "8", "--json");
        Assert.True(mcode == 0, merr);
        using (var json = JsonDocument.Parse(mout.Trim()))
        {
            Assert.Equal("mdlm", json.RootElement.GetProperty("sampler").GetString());
        }

        Assert.NotEqual(0, Run("sample", "--model", mdlm, "--sampler", "esolm", "--length", "8").Code);

        // No metadata: variant B by default, anything goes.
        var bare = TinyModel(objective: null);
        Assert.Equal(0, Run("sample", "--model", bare, "--variant", "A", "--length", "8", "--json").Code);
    }

    [Theory]
    [InlineData("--greedy", "--temperature", "0")]
    [InlineData("--temperature", "--temperature", "-1")]
    [InlineData("--top-p", "--top-p", "0")]
    [InlineData("--top-p", "--top-p", "1.5")]
    [InlineData("--top-k", "--top-k", "-2")]
    [InlineData("--steps", "--steps", "0")]
    [InlineData("--alpha0", "--alpha0", "1.5")]
    [InlineData("--alpha0", "--alpha0", "-0.1")]
    [InlineData("--sampler", "--sampler", "gpt")]
    [InlineData("--length", "--length", "25")]
    [InlineData("--count", "--count", "0")]
    [InlineData("--block", "--block", "0")]
    public void Bad_options_are_errors_naming_the_option(string expected, string option, string value)
    {
        var (code, stdout, stderr) = Run("sample", "--model", TinyModel(), option, value);
        Assert.NotEqual(0, code);
        Assert.Empty(stdout);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Prompt_longer_than_the_context_and_missing_model_are_errors()
    {
        var (code, stdout, stderr) = Run("sample", "--model", TinyModel(), "--prompt", new string('x', 30));
        Assert.NotEqual(0, code);
        Assert.Empty(stdout);
        Assert.Contains("30 tokens", stderr, StringComparison.Ordinal);
        Assert.Contains("context 24", stderr, StringComparison.Ordinal);

        var (code2, _, stderr2) = Run("sample", "--model", Path.Combine(_dir, "none.safetensors"));
        Assert.NotEqual(0, code2);
        Assert.Contains("none.safetensors", stderr2, StringComparison.Ordinal);
    }

    [Fact]
    public void One_token_per_step_modes_take_exactly_one_pass_per_masked_position()
    {
        var model = new DiffusionTransformer(ModelParameters.CreateRandom(Modeling.CachedForwardTests.TinyConfig(23, 5, 16), 4, 0.3f));
        SamplingRequest[] requests = [new() { Seed = 1, SequenceId = 0, Prompt = [1, 2] }, new() { Seed = 1, SequenceId = 1 }];
        var mdlm = new MdlmSampler(model, new MdlmSamplerOptions { OneTokenPerStep = true }).Generate(requests);
        Assert.Equal(16, mdlm.ForwardPasses);
        Assert.Equal([14, 16], mdlm.Sequences.Select(q => q.ForwardPasses));
        var bd3 = new BlockDiffusionSampler(model, new BlockDiffusionSamplerOptions { BlockSize = 4, OneTokenPerStep = true }).Generate(requests);
        Assert.Equal([14, 16], bd3.Sequences.Select(q => q.ForwardPasses));
        Assert.All(bd3.Sequences, q => Assert.DoesNotContain(5, q.Tokens));
        Assert.Equal([1, 2], bd3.Sequences[0].Tokens[..2]);
    }

    private static (int Code, string Stdout, string Stderr) Run(params string[] args) => CliRunner.Run(args);

}
