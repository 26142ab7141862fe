using System.Text.Json;
using EsoLM.Tests.Support;
using EsoLM.Tests.Text;

namespace EsoLM.Tests.Cli;

/// <summary><c>--weights fp32|bf16|int8|int8a16</c> on sample / eval and the bf16 / int8 rows of <c>esolm bench sample</c>.</summary>
[Collection(ConsoleRedirection.Name)]
public sealed class WeightsOptionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("esolm-weights-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Sample_and_eval_accept_the_formats_and_name_a_bad_one()
    {
        var model = Path.Combine(_dir, "m.safetensors");
        var (code, _, stderr) = CliRunner.Run("train", "--corpus", "builtin:grammar", "--documents", "40", "--layers", "1", "--hidden", "32",
            "--heads", "4", "--length", "16", "--batch", "4", "--warmup", "1", "--steps", "2", "--out", model, "--json");
        Assert.True(code == 0, stderr);
        foreach (var w in new[] { "fp32", "bf16", "int8", "int8a16" })
        {
            var (c, stdout, err) = CliRunner.Run("sample", "--model", model, "--weights", w, "--count", "2", "--json");
            Assert.True(c == 0, $"{w}: {err}");
            Assert.False(string.IsNullOrWhiteSpace(stdout));
            var (ce, _, erre) = CliRunner.Run("eval", "--model", model, "--weights", w, "--documents", "20", "--orders", "0", "--samples", "0", "--json");
            Assert.True(ce == 0, $"{w}: {erre}");
        }

        var (bad, _, badErr) = CliRunner.Run("sample", "--model", model, "--weights", "int4");
        Assert.Equal(1, bad);
        Assert.Contains("--weights", badErr, StringComparison.Ordinal);
        Assert.Contains("int4", badErr, StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_sample_has_a_row_per_weight_format()
    {
        var (code, stdout, stderr) = CliRunner.Run("bench", "sample", "--lengths", "32", "--batches", "1", "--methods", "esolm_b",
            "--weights", "fp32,bf16,int8,int8a16", "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var weights = doc.RootElement.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("weights").GetString() ?? "").ToArray();
        Assert.Equal(["fp32", "bf16", "int8", "int8a16"], weights);
        Assert.True(doc.RootElement.GetProperty("ratios").GetProperty("L32_b1_bf16").GetProperty("esolm_fp32_over_this").GetDouble() > 0);
    }
}
