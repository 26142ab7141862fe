using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EsoLM.Cli.Commands;
using EsoLM.Extensions.AI;
using EsoLM.Hosting;
using EsoLM.IO;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Schedules;
using EsoLM.Tensors;
using EsoLM.Tests.Support;
using EsoLM.Tests.Text;
using EsoLM.Text;
using EsoLM.Training;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using static EsoLM.Tests.Reliability.ReliabilityModels;

namespace EsoLM.Tests.Reliability;

/// <summary>
/// One regression test per numbered case of the reliability issue (15): each ran against the code before its fix and
/// failed there. Cases that could crash or exhaust the test host run the CLI in a child process under a GC heap hard limit.
/// </summary>
[Collection(ConsoleRedirection.Name)]
public sealed class ReliabilityRegressionTests : IDisposable
{
    private const long ChildHeap = 384L << 20;
    private readonly string _dir = Directory.CreateTempSubdirectory("esolm-rel-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] TinyTrain =
    [
        "train", "--corpus", "builtin:grammar", "--documents", "60", "--variant", "B", "--alpha0", "0.25", "--layers", "1", "--hidden", "16",
        "--heads", "2", "--length", "16", "--batch", "2", "--threads", "1",
    ];

    // ---- 1. Config bomb: every size of the stored config is checked against the tensors before anything is allocated.
    [Theory]
    [InlineData("layers", 1_000_000, "Layers")]
    [InlineData("mlp_ratio", 1_000_000, "MlpRatio")]
    [InlineData("vocab_size", 30_000_000, "VocabSize")]
    [InlineData("cond_dim", 100_000, "CondDim")]
    [InlineData("hidden_size", 100_000, "HiddenSize")]
    [InlineData("vocab_size", int.MaxValue, "VocabSize")]
    [InlineData("frequency_embedding_size", 100_000_000, "FrequencyEmbeddingSize")]
    public void Case01_config_bomb_fails_with_one_line_naming_the_field_under_a_heap_limit(string field, int value, string name)
    {
        var bomb = WithConfig(Write(_dir), c => c[field] = value);
        var (code, _, stderr) = CliProcess.Run(["sample", "--model", bomb, "--json"], CliProcess.HeapLimit(ChildHeap));
        var line = AssertOneErrorLine(code, stderr);
        Assert.Contains(name, line, StringComparison.Ordinal);
    }

    // ---- 2. The streamed text of `esolm sample` equals its --json text, also when multi-byte characters complete.
    [Fact]
    public void Case02_streamed_text_equals_the_json_text_with_multibyte_characters()
    {
        // Bias the output layer towards the two bytes of 'é' (C3 A9), so characters complete across steps.
        var model = Write(_dir, edit: p =>
        {
            var bias = p["output_layer.linear.bias"].Data;
            bias[0xC3] = 4;
            bias[0xA9] = 4;
        });
        int multibyte = 0;
        for (ulong seed = 1; seed <= 10; seed++)
        {
            var s = seed.ToString(CultureInfo.InvariantCulture);
            var (code, streamed, stderr) = CliRunner.Run("sample", "--model", model, "--seed", s, "--length", "24", "--threads", "1");
            Assert.True(code == 0, stderr);
            var (code2, json, stderr2) = CliRunner.Run("sample", "--model", model, "--seed", s, "--length", "24", "--threads", "1", "--json");
            Assert.True(code2 == 0, stderr2);
            var expected = JsonDocument.Parse(json).RootElement.GetProperty("samples")[0].GetString()!;
            Assert.Equal(expected + Environment.NewLine, streamed);
            multibyte += expected.Count(c => c > 0x7F && c != '\uFFFD');
        }

        Assert.True(multibyte > 0, "the test model produced no multi-byte character; the test proves nothing");
    }

    // ---- 3. The sampler pool is bounded in its number of settings (keys), with eviction.
    [Fact]
    public void Case03_sampler_pool_keys_are_bounded()
    {
        var generator = new EsoLmGenerator(DependencyInjection.TinyModels.ByteModel(length: 8), new EsoLmOptions { MaxNewTokens = 2, Seed = 1 });
        for (int i = 0; i < 300; i++)
        {
            generator.Generate(new GenerationRequest("a") { TopP = 0.5 + (i / 1000.0) });
        }

        Assert.InRange(generator.PooledSettingsCount, 1, new EsoLmOptions().MaxPooledSettings);
    }

    // ---- 4. Per-request steps are checked against the options' range; the planner honours cancellation.
    [Theory]
    [InlineData("esolm")]
    [InlineData("mdlm")]
    [InlineData("bd3")]
    public async Task Case04_chat_request_with_unbounded_steps_is_refused_up_front(string sampler)
    {
        using var client = new EsoLmChatClient(DependencyInjection.TinyModels.ByteModel(length: 32), new EsoLmOptions { MaxNewTokens = 2 });
        var options = new ChatOptions { Seed = 1 }.WithEsoLmSampler(sampler).WithEsoLmSteps(int.MaxValue);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], options));
        Assert.Contains("Steps", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Case04_step_planner_honours_cancellation()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => StepPlanner.Plan(16, int.MaxValue, 0.5, LogLinearSchedule.Default, 1, cts.Token));
    }

    [Theory]
    [InlineData("mdlm")]
    [InlineData("bd3")]
    [InlineData("esolm")]
    public void Case04_cli_sample_with_unbounded_steps_is_one_error_line(string sampler)
    {
        var model = Write(_dir);
        var (code, _, stderr) = CliProcess.Run(["sample", "--model", model, "--sampler", sampler, "--steps", "2147483647", "--json"],
            CliProcess.HeapLimit(ChildHeap), timeoutSeconds: 120);
        Assert.Contains("--steps", AssertOneErrorLine(code, stderr), StringComparison.Ordinal);
    }

    // ---- 5. SIGTERM (and Ctrl+C) during training: finish the step, write checkpoint and model, print the resume command.
    [Fact]
    public async Task Case05_sigterm_during_training_writes_checkpoint_and_model_and_prints_the_resume_command()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // no SIGTERM to send
        }

        var output = Path.Combine(_dir, "t.safetensors");
        var checkpoint = output + ".ckpt";
        // --checkpoint-every 1 only tells the test when training runs (the handler is installed before the first step).
        string[] args = [.. TinyTrain, "--steps", "1000000", "--checkpoint-every", "1", "--out", output];
        using var process = Process.Start(CliProcess.StartInfo(args))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var started = Stopwatch.StartNew();
        while (!File.Exists(checkpoint) && !process.HasExited && started.Elapsed < TimeSpan.FromMinutes(3))
        {
            Thread.Sleep(100);
        }

        Assert.True(File.Exists(checkpoint), "training did not start: " + (process.HasExited ? await stderr : "no checkpoint"));
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            kill.WaitForExit();
        }

        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("training did not stop after SIGTERM");
        }

        var err = await stderr;
        Assert.True(File.Exists(checkpoint), $"no checkpoint; exit {process.ExitCode}; {err}");
        Assert.True(File.Exists(output), $"no model; exit {process.ExitCode}; {err}");
        var state = Checkpoint.Load(checkpoint);
        Assert.InRange(state.Step, 1, 999_999);
        Assert.Equal(state.Config, ModelFile.Load(output).Config);
        Assert.Contains("--resume " + checkpoint, err, StringComparison.Ordinal);
        Assert.Equal(143, process.ExitCode);
        _ = await stdout;

        // The printed command resumes (here one step further).
        var (code, _, resumeErr) = CliRunner.Run([.. TinyTrain, "--steps", (state.Step + 1).ToString(CultureInfo.InvariantCulture), "--out", output,
            "--resume", checkpoint]);
        Assert.True(code == 0, resumeErr);
        Assert.Equal(state.Step + 1, Checkpoint.Load(checkpoint).Step);
    }

    // ---- 6. Resume continues a run with more steps (the default warm-up is longer than the first run).
    [Fact]
    public void Case06_resume_accepts_a_longer_run_with_the_default_warmup()
    {
        var output = Path.Combine(_dir, "r.safetensors");
        var (code, _, err) = CliRunner.Run([.. TinyTrain, "--steps", "2", "--out", output]);
        Assert.True(code == 0, err);
        (code, _, err) = CliRunner.Run([.. TinyTrain, "--steps", "4", "--out", output, "--resume", output + ".ckpt"]);
        Assert.True(code == 0, err);
        Assert.Equal(4, Checkpoint.Load(output + ".ckpt").Step);
    }

    // ---- 7. Failures that used to come after the work is done are found before it starts.
    [Fact]
    public void Case07_out_in_a_missing_folder_fails_before_training_naming_the_user_path()
    {
        var output = Path.Combine(_dir, "no", "such", "m.safetensors");
        var (code, _, err) = CliRunner.Run([.. TinyTrain, "--steps", "3", "--out", output]);
        var line = AssertOneErrorLine(code, err);
        Assert.Contains(output, line, StringComparison.Ordinal);
        Assert.DoesNotContain(".tmp", line, StringComparison.Ordinal);
        Assert.Contains("--out", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Case07_a_one_row_corpus_fails_before_training_and_writes_nothing()
    {
        var corpus = Path.Combine(_dir, "tiny.txt");
        File.WriteAllText(corpus, "the cat sat on the mat and the dog sat on the log, twice.");
        var output = Path.Combine(_dir, "c.safetensors");
        var (code, _, err) = CliRunner.Run("train", "--corpus", corpus, "--layers", "1", "--hidden", "16", "--heads", "2", "--length", "32",
            "--batch", "2", "--steps", "3", "--threads", "1", "--out", output);
        var line = AssertOneErrorLine(code, err);
        Assert.Contains("validation", line, StringComparison.Ordinal);
        Assert.False(File.Exists(output + ".ckpt"));
        Assert.False(File.Exists(output));
    }

    [Theory]
    [InlineData("none")]
    [InlineData("top-p")]
    [InlineData("steps")]
    [InlineData("sampler")]
    [InlineData("scorer")]
    public void Case07_bad_eval_settings_are_reported_before_any_pass(string bad)
    {
        var model = DependencyInjectionModel();
        var scorer = Path.Combine(_dir, "truncated.safetensors");
        var bytes = File.ReadAllBytes(model);
        File.WriteAllBytes(scorer, bytes.AsSpan(0, bytes.Length / 2).ToArray());
        var s = EvalCommand.EvalSettings.Defaults(model) with { Documents = 30, Orders = 1, Samples = 2, Threads = 1 };
        using var log = new StringWriter();
        if (bad == "none")
        {
            EvalCommand.Run(s with { Samples = 0, Orders = 0 }, log); // the control: this setup does run the passes
            Assert.Contains("NELBO perplexity", log.ToString(), StringComparison.Ordinal);
            return;
        }

        s = bad switch
        {
            "top-p" => s with { TopP = double.NaN },
            "steps" => s with { Steps = 0 },
            "sampler" => s with { Sampler = "nope" },
            _ => s with { Scorer = scorer },
        };
        var e = Assert.ThrowsAny<Exception>(() => EvalCommand.Run(s, log));
        Assert.True(e is ArgumentException or InvalidDataException or IOException, e.ToString());
        Assert.Equal(string.Empty, log.ToString());
    }

    // ---- 8. Interrupted writes leave temp files that the next write to the same target removes.
    [Fact]
    public void Case08_leftover_temp_files_are_removed_by_the_next_write_and_a_running_write_is_left_alone()
    {
        var target = Path.Combine(_dir, "x.ckpt");
        var debris = Path.Combine(_dir, $".x.ckpt.{Guid.NewGuid():N}.tmp");
        var other = Path.Combine(_dir, $".y.ckpt.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(debris, new byte[1000]);
        File.WriteAllBytes(other, new byte[10]);
        AtomicFile.Write(target, s => s.WriteByte(1));
        Assert.False(File.Exists(debris));
        Assert.True(File.Exists(other)); // another target's temp file is not ours to remove
        Assert.Equal([1], File.ReadAllBytes(target));

        // A write in progress (its temp file open) is not disturbed by a second writer's clean-up.
        AtomicFile.Write(target, outer =>
        {
            outer.WriteByte(2);
            AtomicFile.Write(target, inner => inner.WriteByte(3));
        });
        Assert.Equal([2], File.ReadAllBytes(target));
        Assert.Empty(Directory.GetFiles(_dir, ".x.ckpt.*.tmp"));
    }

    // ---- 9. Absurd sizes are refused up front with a message naming the setting (never "Out of memory.").
    [Theory]
    [InlineData("--length", "100000")]
    [InlineData("--layers", "100000000")]
    [InlineData("--batch", "100000000")]
    [InlineData("--hidden", "100000")]
    public void Case09_absurd_training_sizes_are_refused_naming_the_setting(string option, string value)
    {
        var output = Path.Combine(_dir, "a.safetensors");
        var args = TinyTrain.ToList();
        int i = args.IndexOf(option);
        if (i >= 0)
        {
            args[i + 1] = value;
        }
        else
        {
            args.AddRange([option, value]);
        }

        args.AddRange(["--steps", "2", "--out", output]);
        if (option == "--length")
        {
            args[args.IndexOf("--documents") + 1] = "4000"; // enough text for rows of that length, so memory is what fails
        }

        var (code, _, stderr) = CliProcess.Run(args, CliProcess.HeapLimit(ChildHeap));
        var line = AssertOneErrorLine(code, stderr);
        Assert.True(line.Contains("lower " + option, StringComparison.Ordinal) || line.Contains($"{option} {value} must", StringComparison.Ordinal), line);
    }

    [Fact]
    public void Case09_a_word_tokenizer_on_a_huge_vocabulary_is_refused_naming_the_setting()
    {
        var corpus = Path.Combine(_dir, "words.txt");
        var rng = new Random(5);
        var sb = new StringBuilder();
        for (int i = 0; i < 300_000; i++)
        {
            for (int k = 0; k < 7; k++)
            {
                sb.Append((char)('a' + rng.Next(26)));
            }

            sb.Append(' ');
        }

        File.WriteAllText(corpus, sb.ToString());
        var (code, _, stderr) = CliProcess.Run(["train", "--corpus", corpus, "--tokenizer", "word", "--steps", "2", "--out", Path.Combine(_dir, "w.safetensors")],
            CliProcess.HeapLimit(ChildHeap));
        Assert.Contains("lower --tokenizer", AssertOneErrorLine(code, stderr), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--block", "2147483647", "bd3")]
    [InlineData("--count", "4096", "esolm")]
    public void Case09_absurd_sampling_sizes_are_refused_naming_the_setting(string option, string value, string sampler)
    {
        var model = Write(_dir, ByteConfig(layers: 2, hidden: 128, context: 128));
        var (code, stdout, stderr) = CliProcess.Run(["sample", "--model", model, "--sampler", sampler, option, value, "--json", "--threads", "1"],
            CliProcess.HeapLimit(256L << 20));
        if (code == 0)
        {
            Assert.Equal(1, JsonDocument.Parse(stdout).RootElement.GetProperty("samples").GetArrayLength());
            return; // a block larger than the sequence is one block: a result is fine too
        }

        Assert.Contains(option, AssertOneErrorLine(code, stderr), StringComparison.Ordinal);
    }

    // ---- 10. 2.5 M special tokens: one error line or a result, never a stack overflow.
    [Fact]
    public void Case10_millions_of_special_tokens_do_not_overflow_the_stack()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir, "gpt2")).FullName;
        using (var w = new StreamWriter(Path.Combine(dir, "encoder.json"), false, new UTF8Encoding(false)))
        {
            w.Write('{');
            int id = 0;
            foreach (var c in Gpt2ByteChars())
            {
                w.Write(JsonSerializer.Serialize(c.ToString()));
                w.Write(':');
                w.Write(id++);
                w.Write(',');
            }

            for (int i = 0; i < 2_500_000; i++)
            {
                w.Write("\"<s");
                w.Write(i);
                w.Write(">\":");
                w.Write(id++);
                w.Write(i == 2_499_999 ? "}" : ",");
            }
        }

        File.WriteAllText(Path.Combine(dir, "vocab.bpe"), "#version: 0.2\n");
        var text = Path.Combine(_dir, "t.txt");
        File.WriteAllText(text, "ab<s7>cd<s2499999>");
        var (code, stdout, stderr) = CliProcess.Run(["tokenize", "--tokenizer", "gpt2:" + dir, "--text-file", text, "--allow-special"]);
        if (code == 0)
        {
            var ids = JsonSerializer.Deserialize<int[]>(stdout)!;
            Assert.Contains(256 + 7, ids);
            Assert.Contains(256 + 2_499_999, ids);
        }
        else
        {
            AssertOneErrorLine(code, stderr);
        }
    }

    // ---- 11. One error format for every command; a directory is not reported as missing.
    [Fact]
    public void Case11_every_command_reports_one_error_line()
    {
        var dirModel = Directory.CreateDirectory(Path.Combine(_dir, "amodel")).FullName;
        var model = Write(_dir);
        string[][] cases =
        [
            ["sample", "--model", Path.Combine(_dir, "missing.safetensors")],
            ["sample", "--model", model, "--count", "0"],
            ["sample", "--model", model, "--top-p", "2"],
            ["tokenize", "--tokenizer", "nope", "--text-file", model],
            ["tokenize", "--tokenizer", "byte", "--text-file", Path.Combine(_dir, "missing.txt")],
            ["eval", "--model", Path.Combine(_dir, "missing.safetensors")],
            ["eval", "--model", model, "--batch", "0"],
            ["train", "--corpus", Path.Combine(_dir, "missing.txt")],
            ["train", "--steps", "0"],
        ];
        foreach (var args in cases)
        {
            var (code, _, stderr) = CliRunner.Run(args);
            var line = AssertOneErrorLine(code, stderr);
            Assert.DoesNotContain("Actual value", line, StringComparison.Ordinal);
            Assert.DoesNotContain("(Parameter", line, StringComparison.Ordinal);
        }

        foreach (var args in new[] { new[] { "sample", "--model", dirModel }, ["train", "--corpus", dirModel], ["eval", "--model", dirModel] })
        {
            var (code, _, stderr) = CliRunner.Run(args);
            var line = AssertOneErrorLine(code, stderr);
            Assert.Contains("is a directory", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Case11_a_resume_mismatch_is_one_line()
    {
        var output = Path.Combine(_dir, "m.safetensors");
        var (code, _, err) = CliRunner.Run([.. TinyTrain, "--steps", "1", "--out", output]);
        Assert.True(code == 0, err);
        (code, _, err) = CliRunner.Run([.. TinyTrain, "--steps", "2", "--lr", "0.01", "--out", output, "--resume", output + ".ckpt"]);
        Assert.Contains("differ", AssertOneErrorLine(code, err), StringComparison.Ordinal);
    }

    // ---- 12. DI start-up refuses settings that would fail later; the CLI refuses what DI refuses.
    [Fact]
    public void Case12_start_up_validates_the_model_file_against_the_settings()
    {
        var good = Write(_dir);
        var corrupt = Path.Combine(_dir, "corrupt.safetensors");
        File.WriteAllBytes(corrupt, File.ReadAllBytes(good).AsSpan(0, 300).ToArray());
        var bomb = WithConfig(good, c => c["layers"] = 1_000_000);

        string Fails(Action<EsoLmOptions> configure)
        {
            var services = new ServiceCollection();
            services.AddEsoLm(configure);
            using var provider = services.BuildServiceProvider();
            var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
            return e.Message;
        }

        Assert.Contains("MaxNewTokens", Fails(o => { o.ModelPath = good; o.MaxNewTokens = 60000; }), StringComparison.Ordinal);
        Assert.Contains("ModelPath", Fails(o => o.ModelPath = corrupt), StringComparison.Ordinal);
        Assert.Contains("Layers", Fails(o => o.ModelPath = bomb), StringComparison.Ordinal);
        Assert.Contains("Tokenizer", Fails(o => { o.ModelPath = good; o.Tokenizer = "builtin"; }), StringComparison.Ordinal);

        // And the good file starts.
        var ok = new ServiceCollection();
        ok.AddEsoLm(o => o.ModelPath = good);
        using var p = ok.BuildServiceProvider();
        p.GetRequiredService<IStartupValidator>().Validate();
    }

    [Theory]
    [InlineData("--greedy", "--temperature", "0.5")]
    [InlineData("--greedy", "--top-k", "5")]
    [InlineData("--sampler", "ar", "--alpha0", "0.3")]
    public void Case12_cli_sample_refuses_combinations_di_refuses(params string[] extra)
    {
        var model = Write(_dir);
        var (code, _, stderr) = CliRunner.Run(["sample", "--model", model, "--json", .. extra]);
        AssertOneErrorLine(code, stderr);
    }

    // ---- 13. A tokenizer with fewer ids than the model is refused when the model loads, before anything is printed.
    [Fact]
    public void Case13_a_tokenizer_smaller_than_the_model_is_refused_up_front()
    {
        var config = ByteConfig() with { VocabSize = 400, MaskTokenId = 399 };
        var model = Write(_dir, config, edit: p =>
        {
            var bias = p["output_layer.linear.bias"].Data;
            for (int i = 300; i < 399; i++)
            {
                bias[i] = 5; // the model prefers ids the byte tokenizer does not have
            }
        });
        var (code, stdout, stderr) = CliRunner.Run("sample", "--model", model, "--seed", "1");
        Assert.Contains("tokenizer", AssertOneErrorLine(code, stderr), StringComparison.Ordinal);
        Assert.Equal(string.Empty, stdout);
        Assert.Throws<ArgumentException>(() => EsoLmModel.Load(model));
    }

    private string DependencyInjectionModel()
    {
        var tok = DependencyInjection.TinyModels.Tokenizer;
        var config = DependencyInjection.TinyModels.Config(16);
        var path = Path.Combine(_dir, $"c{Guid.NewGuid():N}.safetensors");
        ModelFile.Save(path, ModelParameters.CreateRandom(config, 5, 0.3f), tok.Describe(),
            new Dictionary<string, string> { ["esolm.objective"] = Checkpoint.Describe(new ObjectiveOptions { Alpha0 = 0.5, Variant = EsoLM.Masks.EsoLmVariant.B }) });
        return path;
    }

    /// <summary>GPT-2's byte-to-character map (bytes 33–126, 161–172, 174–255 map to themselves, the rest to 256 + n).</summary>
    private static char[] Gpt2ByteChars()
    {
        int n = 0;
        var chars = new char[256];
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= 33 and <= 126 or >= 161 and <= 172 or >= 174 and <= 255;
            chars[b] = printable ? (char)b : (char)(256 + n++);
        }

        return chars;
    }
}
