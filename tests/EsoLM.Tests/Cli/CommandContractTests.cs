using System.Text.Json;
using EsoLM.Tests.Support;
using EsoLM.Tests.Text;

namespace EsoLM.Tests.Cli;

/// <summary>The JSON keys the issues name are a public contract: scripts depend on them.</summary>
[Collection(ConsoleRedirection.Name)]
public sealed class CommandContractTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("esolm-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Check_parity_prints_cases_max_abs_diff_and_passed()
    {
        var (code, stdout, stderr) = CliRunner.Run("check-parity", "--golden", SharedData.Reference, "--backend", "cpu", "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.True(doc.RootElement.GetProperty("cases").GetInt32() >= 19);
        Assert.InRange(doc.RootElement.GetProperty("max_abs_diff").GetDouble(), 0, 1e-4);
        Assert.True(doc.RootElement.GetProperty("passed").GetBoolean());
    }

    [Fact]
    public void Train_json_has_the_contract_keys_and_resume_continues_to_the_total()
    {
        var model = Path.Combine(_dir, "m.safetensors");
        string[] common = ["train", "--corpus", "builtin:grammar", "--documents", "60", "--layers", "1", "--hidden", "32", "--heads", "4",
            "--length", "16", "--batch", "4", "--lr", "3e-3", "--warmup", "1", "--alpha0", "0.5", "--out", model, "--json"];
        var (code, stdout, stderr) = CliRunner.Run([.. common, "--steps", "2"]);
        Assert.True(code == 0, stderr);
        using (var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]))
        {
            Assert.Equal(2, doc.RootElement.GetProperty("steps").GetInt32());
            foreach (var key in new[] { "train_loss", "val_nelbo_ppl", "tokens_per_second" })
            {
                Assert.True(double.IsFinite(doc.RootElement.GetProperty(key).GetDouble()), key);
            }
        }

        Assert.True(File.Exists(model) && File.Exists(model + ".ckpt"));
        var (code2, stdout2, stderr2) = CliRunner.Run([.. common, "--steps", "4", "--resume", model + ".ckpt"]);
        Assert.True(code2 == 0, stderr2);
        using var resumed = JsonDocument.Parse(stdout2.Trim().Split('\n')[^1]);
        Assert.Equal(4, resumed.RootElement.GetProperty("steps").GetInt32());
    }

    [Fact]
    public void Train_resume_accepts_the_model_path_when_its_checkpoint_sits_beside_it()
    {
        var model = Path.Combine(_dir, "r.safetensors");
        string[] common = ["train", "--corpus", "builtin:grammar", "--documents", "60", "--layers", "1", "--hidden", "16", "--heads", "2",
            "--length", "16", "--batch", "4", "--warmup", "1", "--alpha0", "0.5", "--threads", "1", "--json"];
        var (code, _, stderr) = CliRunner.Run([.. common, "--steps", "2", "--out", model]);
        Assert.True(code == 0, stderr);

        // Resuming from the model path and from its checkpoint give the same model.
        var fromModel = Path.Combine(_dir, "from-model.safetensors");
        var fromCheckpoint = Path.Combine(_dir, "from-ckpt.safetensors");
        var (c1, out1, e1) = CliRunner.Run([.. common, "--steps", "3", "--resume", model, "--out", fromModel]);
        Assert.True(c1 == 0, e1);
        using (var doc = JsonDocument.Parse(out1.Trim().Split('\n')[^1]))
        {
            Assert.Equal(3, doc.RootElement.GetProperty("steps").GetInt32());
        }

        var (c2, _, e2) = CliRunner.Run([.. common, "--steps", "3", "--resume", model + ".ckpt", "--out", fromCheckpoint]);
        Assert.True(c2 == 0, e2);
        var a = EsoLM.IO.ModelFile.Load(fromModel).Parameters.Tensors;
        var b = EsoLM.IO.ModelFile.Load(fromCheckpoint).Parameters.Tensors;
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].Data, b[i].Data);
        }

        // A model file without a checkpoint beside it is a clear error naming the missing checkpoint.
        var lonely = Path.Combine(_dir, "lonely.safetensors");
        File.Copy(model, lonely);
        var (c3, o3, e3) = CliRunner.Run([.. common, "--steps", "3", "--resume", lonely, "--out", Path.Combine(_dir, "x.safetensors")]);
        Assert.Equal(1, c3);
        Assert.Empty(o3);
        Assert.Contains("lonely.safetensors.ckpt", e3, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_with_a_wordpiece_vocabulary_uses_its_mask_token_and_sample_reads_the_tokenizer_from_the_file()
    {
        var words = System.Text.RegularExpressions.Regex.Matches(EsoLM.Data.BuiltInLanguage.Corpus(0, 2000, 4).ToLowerInvariant(), @"\w+|[^\w\s]")
            .Select(m => m.Value).Distinct().Order(StringComparer.Ordinal).ToList();
        string[] lines = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", .. words[..(words.Count / 2)], "[MASK]", .. words[(words.Count / 2)..]];
        var vocab = Path.Combine(_dir, "vocab.txt");
        File.WriteAllLines(vocab, lines);
        var model = Path.Combine(_dir, "bert.safetensors");
        var (code, _, stderr) = CliRunner.Run("train", "--corpus", "builtin:grammar", "--tokenizer", "bert:" + vocab, "--documents", "40", "--layers", "1",
            "--hidden", "16", "--heads", "2", "--length", "16", "--batch", "2", "--steps", "2", "--warmup", "1", "--out", model, "--json");
        Assert.True(code == 0, stderr);

        var loaded = EsoLM.Hosting.EsoLmModel.Load(model);
        Assert.Equal(lines.Length, loaded.Config.VocabSize);
        Assert.Equal(Array.IndexOf(lines, "[MASK]"), loaded.Config.MaskTokenId);
        Assert.Equal(Array.IndexOf(lines, "[SEP]"), loaded.EosTokenId);
        Assert.IsType<Microsoft.ML.Tokenizers.BertTokenizer>(loaded.Tokenizer);

        File.Delete(vocab);
        var (sampleCode, sampleOut, sampleErr) = CliRunner.Run("sample", "--model", model, "--count", "1", "--steps", "2", "--prompt", "the", "--json");
        Assert.True(sampleCode == 0, sampleErr);
        Assert.NotEmpty(sampleOut.Trim());
    }

    [Fact]
    public void Train_refuses_alpha0_outside_0_1()
    {
        var (code, _, stderr) = CliRunner.Run("train", "--alpha0", "1.5", "--steps", "1", "--out", Path.Combine(_dir, "x.safetensors"));
        Assert.NotEqual(0, code);
        Assert.Contains("α0", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("check-parity", "--golden", "/no/such/golden")]
    [InlineData("train", "--corpus", "/no/such/corpus.txt", "--steps", "1")]
    [InlineData("train", "--variant", "C", "--steps", "1")]
    [InlineData("bench", "train", "--backend", "tpu")]
    public void Bad_input_is_one_clear_error_line_without_a_stack_trace(params string[] args)
    {
        var (code, stdout, stderr) = CliRunner.Run(args);
        Assert.Equal(1, code);
        Assert.Empty(stdout);
        Assert.StartsWith("esolm: error: ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        Assert.Contains(args[2].TrimStart('-'), stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Demo_runs_end_to_end_on_a_tiny_budget()
    {
        var (code, stdout, stderr) = CliRunner.Run("demo", "--steps", "3", "--samples", "2", "--length", "16", "--layers", "1", "--hidden", "32",
            "--out", _dir, "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        foreach (var model in new[] { "esolm", "mdlm" })
        {
            var m = doc.RootElement.GetProperty(model);
            Assert.InRange(m.GetProperty("validity").GetDouble(), 0, 1);
            Assert.True(m.GetProperty("val_nelbo_ppl").GetDouble() > 1);
            Assert.Equal(2, m.GetProperty("samples").GetArrayLength());
            Assert.True(File.Exists(m.GetProperty("model").GetString()));
        }

        Assert.True(doc.RootElement.GetProperty("speed_ratio").GetDouble() > 0);
    }
}
