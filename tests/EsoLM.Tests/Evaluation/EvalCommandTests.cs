using EsoLM.Tests.Support;
using System.Text.Json;
using EsoLM.Tests.Text;

namespace EsoLM.Tests.Evaluation;

/// <summary>Tiny model files trained once through <c>esolm train</c> for the command tests.</summary>
public sealed class EvalCommandFixture : IDisposable
{
    public EvalCommandFixture()
    {
        Dir = Directory.CreateTempSubdirectory("esolm-eval-").FullName;
        Train("b.safetensors", "--alpha0", "0.5");
        Train("ar.safetensors", "--alpha0", "0");
        Train("ar-byte.safetensors", "--alpha0", "0", "--tokenizer", "byte");
        Train("mdlm.safetensors", "--alpha0", "1", "--variant", "MDLM");
        Train("b-word.safetensors", "--alpha0", "0.5", "--tokenizer", "word");
    }

    public string Dir { get; }

    public string Path(string name) => System.IO.Path.Combine(Dir, name);

    public void Dispose() => Directory.Delete(Dir, recursive: true);

    private void Train(string name, params string[] extra)
    {
        var (code, _, stderr) = EvalCommandTests.Run(
            [
                "train", "--corpus", "builtin:grammar", "--documents", "40", "--layers", "1", "--hidden", "16", "--heads", "2", "--length", "16",
                "--batch", "4", "--steps", "3", "--threads", "1", "--out", Path(name), "--json",
                .. (extra.Contains("--tokenizer") ? Array.Empty<string>() : ["--tokenizer", "char"]), .. extra,
            ]);
        if (code != 0)
        {
            throw new InvalidOperationException("training the test model failed: " + stderr);
        }
    }
}

[Collection(ConsoleRedirection.Name)]
public sealed class EvalCommandTests(EvalCommandFixture models) : IClassFixture<EvalCommandFixture>
{
    private static readonly string[] Small = ["--documents", "20", "--rows", "6", "--samples", "3", "--orders", "2", "--threads", "1", "--json"];

    [Fact]
    public void Prints_one_json_line_with_likelihoods_and_sample_quality()
    {
        var (code, stdout, stderr) = Run(["eval", "--model", models.Path("b.safetensors"), "--scorer", models.Path("ar.safetensors"), "--steps", "4",
            "--baseline-corpus", "builtin:grammar", "--train-documents", "40", .. Small]);
        Assert.True(code == 0, stderr);
        var line = Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var doc = JsonDocument.Parse(line);
        var r = doc.RootElement;
        Assert.True(r.GetProperty("nelbo_ppl").GetDouble() > 1);
        Assert.True(r.GetProperty("exact_ppl").GetDouble() > 1);
        Assert.Equal(2, r.GetProperty("orders").GetInt32());
        Assert.Equal(0.5, r.GetProperty("alpha_eval").GetDouble());
        Assert.Equal("esolm-b", r.GetProperty("sampler").GetString());
        Assert.Equal(3, r.GetProperty("samples").GetInt32());
        Assert.InRange(r.GetProperty("entropy").GetDouble(), 0, Math.Log(64));
        Assert.InRange(r.GetProperty("validity").GetDouble(), 0, 1);
        Assert.True(r.GetProperty("gen_ppl").GetDouble() > 1);
        Assert.False(r.GetProperty("retokenized").GetBoolean());
        Assert.True(r.GetProperty("nfe").GetDouble() >= 1);
        Assert.True(r.GetProperty("seconds").GetDouble() > 0);
        Assert.True(r.GetProperty("unigram_ppl").GetDouble() > 1);
        Assert.Equal(6, r.GetProperty("rows").GetInt32());
        Assert.InRange(r.GetProperty("data_validity").GetDouble(), 0, 1); // L = 16 windows rarely hold a whole sentence
        Assert.InRange(r.GetProperty("data_entropy").GetDouble(), 1, Math.Log(64));
    }

    [Fact]
    public void Scorer_with_another_tokenizer_is_retokenized()
    {
        var (code, stdout, stderr) = Run(["eval", "--model", models.Path("b.safetensors"), "--scorer", models.Path("ar-byte.safetensors"), "--no-nelbo", .. Small]);
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.True(doc.RootElement.GetProperty("retokenized").GetBoolean());
        Assert.True(doc.RootElement.GetProperty("gen_ppl").GetDouble() > 1);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("nelbo_ppl").ValueKind);
    }

    [Fact]
    public void Mdlm_model_is_sampled_by_the_mdlm_sampler_and_refuses_the_esolm_one()
    {
        var (code, stdout, stderr) = Run(["eval", "--model", models.Path("mdlm.safetensors"), .. Small]);
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal("mdlm", doc.RootElement.GetProperty("sampler").GetString());
        Assert.Equal("Mdlm", doc.RootElement.GetProperty("variant").GetString());
        Assert.True(doc.RootElement.GetProperty("exact_ppl").GetDouble() > 1);

        (code, stdout, stderr) = Run(["eval", "--model", models.Path("mdlm.safetensors"), "--sampler", "esolm", .. Small]);
        Assert.NotEqual(0, code);
        Assert.Empty(stdout);
        Assert.Contains("--sampler mdlm", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Validity_is_reported_for_a_word_token_model_by_decoding_to_text()
    {
        var (code, stdout, stderr) = Run(["eval", "--model", models.Path("b-word.safetensors"), "--no-nelbo", .. Small]);
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var r = doc.RootElement;
        Assert.InRange(r.GetProperty("validity").GetDouble(), 0, 1);

        // Held-out text of the language, decoded from word tokens, is all valid: decode-then-recognize loses nothing.
        Assert.Equal(1.0, r.GetProperty("data_validity").GetDouble());
    }

    [Fact]
    public void Mdlm_sampler_on_an_eso_lm_is_refused_unless_allowed()
    {
        var (code, stdout, stderr) = Run(["eval", "--model", models.Path("b.safetensors"), "--sampler", "mdlm", "--no-nelbo", .. Small]);
        Assert.NotEqual(0, code);
        Assert.Empty(stdout);
        Assert.Contains("--allow-variant-mismatch", stderr, StringComparison.Ordinal);
        var (ok, _, warn) = Run(["eval", "--model", models.Path("b.safetensors"), "--sampler", "mdlm", "--allow-variant-mismatch", "--no-nelbo", .. Small]);
        Assert.True(ok == 0, warn);
        Assert.Contains("warning", warn, StringComparison.Ordinal);
    }

    [Fact]
    public void Non_autoregressive_scorer_is_refused()
    {
        var (code, _, stderr) = Run(["eval", "--model", models.Path("ar.safetensors"), "--scorer", models.Path("b.safetensors"), .. Small]);
        Assert.NotEqual(0, code);
        Assert.Contains("autoregressive scorer", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Corpus_shorter_than_one_row_is_an_error()
    {
        var file = System.IO.Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "The cat.");
            var (code, stdout, stderr) = Run(["eval", "--model", models.Path("b.safetensors"), "--corpus", file, .. Small]);
            Assert.NotEqual(0, code);
            Assert.Empty(stdout);
            Assert.Contains("fewer than one row", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Missing_model_is_an_error()
    {
        var (code, _, stderr) = Run(["eval", "--model", "/no/such/model.safetensors", "--json"]);
        Assert.NotEqual(0, code);
        Assert.Contains("/no/such/model.safetensors", stderr, StringComparison.Ordinal);
    }

    internal static (int Code, string Stdout, string Stderr) Run(params string[] args) => CliRunner.Run(args);

}
