#pragma warning disable CA2208 // Errors name the offending command-line option, not a method parameter.
using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using EsoLM.IO;
using EsoLM.Diagnostics;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Training;
using Spectre.Console;
using EsoLM.Text;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Cli.Commands;

/// <summary>
/// <c>esolm train</c>: trains an Eso-LM on the built-in language or text files. Writes the model (EMA weights) to
/// <c>--out</c> and the training checkpoint beside it (<c>OUT.ckpt</c>); <c>--resume</c> continues a checkpoint up to
/// <c>--steps</c> in total.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var corpus = new Option<string[]>("--corpus") { Description = "builtin:grammar or text files (one document each).", DefaultValueFactory = _ => [CorpusSource.BuiltIn], AllowMultipleArgumentsPerToken = true };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "char or word (from the corpus), byte, gpt2:DIR, tiktoken:NAME, bert:VOCAB.txt, sentencepiece:MODEL, char:FILE or word:FILE. Default: word for builtin:grammar, byte otherwise." };
        var variant = new Option<string>("--variant") { Description = "Attention variant: B (causal, KV cache in both phases), A (clean tokens bidirectional), or MDLM (the bidirectional baseline; needs --alpha0 1).", DefaultValueFactory = _ => "B" };
        var alpha0 = new Option<double>("--alpha0") { Description = "α0 in [0,1]: 0 = autoregressive, 1 = masked diffusion.", DefaultValueFactory = _ => 0.25 };
        var layers = new Option<int>("--layers") { Description = "Transformer blocks.", DefaultValueFactory = _ => 4 };
        var hidden = new Option<int>("--hidden") { Description = "Hidden size.", DefaultValueFactory = _ => 128 };
        var heads = new Option<int>("--heads") { Description = "Attention heads.", DefaultValueFactory = _ => 4 };
        var length = new Option<int>("--length") { Description = "Sequence length L (the model's context).", DefaultValueFactory = _ => 128 };
        var batch = new Option<int>("--batch") { Description = "Rows per batch.", DefaultValueFactory = _ => 32 };
        var steps = new Option<int>("--steps") { Description = "Total optimizer steps (also when resuming).", DefaultValueFactory = _ => 1000 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate.", DefaultValueFactory = _ => 1e-3 };
        var warmup = new Option<int>("--warmup") { Description = "Linear warm-up steps.", DefaultValueFactory = _ => 100 };
        var cosine = new Option<bool>("--cosine") { Description = "Cosine decay after warm-up (default: constant)." };
        var dropout = new Option<float>("--dropout") { Description = "Dropout on branch outputs.", DefaultValueFactory = _ => 0f };
        var seed = new Option<ulong>("--seed") { Description = "Seed of initialisation, data order, corruption and the built-in corpus.", DefaultValueFactory = _ => 1UL };
        var threads = BenchCommand.ThreadsOption();
        var documents = new Option<int>("--documents") { Description = "Documents generated for builtin:grammar.", DefaultValueFactory = _ => 4000 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Also checkpoint every N steps (0: only at the end).", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Model file to write (EMA weights); the checkpoint goes to OUT.ckpt.", DefaultValueFactory = _ => "model.safetensors" };
        var resume = new Option<string?>("--resume") { Description = "Checkpoint to continue from (OUT.ckpt), or the model file OUT whose checkpoint sits beside it." };
        var gradAccum = new Option<int>("--grad-accum")
        {
            Description = "Micro-batches of --batch rows per optimizer step, gradients averaged: the effective batch is N × --batch while memory holds one micro-batch.",
            DefaultValueFactory = _ => 1,
        };
        var json = BenchCommand.JsonOption();
        var backend = BackendOption.Create();
        var cmd = new Command("train", "Train an Eso-LM on the built-in language or your text.")
        {
            corpus, tokenizer, variant, alpha0, layers, hidden, heads, length, batch, steps, lr, warmup, cosine, dropout, seed, threads, documents,
            checkpointEvery, output, resume, json, backend, gradAccum,
        };
        cmd.SetAction(pr =>
        {
            var settings = new TrainSettings(
                pr.GetValue(corpus)!, pr.GetValue(tokenizer), ParseVariant(pr.GetValue(variant)!), pr.GetValue(alpha0), pr.GetValue(layers), pr.GetValue(hidden),
                pr.GetValue(heads), pr.GetValue(length), pr.GetValue(batch), pr.GetValue(steps), pr.GetValue(lr), pr.GetValue(warmup), pr.GetValue(cosine),
                pr.GetValue(dropout), pr.GetValue(seed), pr.GetValue(threads), pr.GetValue(documents), pr.GetValue(checkpointEvery), pr.GetValue(output)!,
                pr.GetValue(resume), pr.GetValue(backend)!, pr.GetValue(gradAccum));

            // Ctrl+C and SIGTERM finish the current step, then the run writes its checkpoint and model and says how to resume.
            using var stop = new CancellationTokenSource();
            int exitCode = 0;
            void OnSignal(PosixSignalContext context)
            {
                context.Cancel = true;
                exitCode = context.Signal == PosixSignal.SIGTERM ? 143 : 130;
                stop.Cancel();
            }

            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
            TrainReport report;
            try
            {
                report = Run(settings, cancellationToken: stop.Token);
            }
            catch (TrainingInterruptedException e)
            {
                Console.Error.WriteLine("esolm: " + e.Message);
                return exitCode == 0 ? 130 : exitCode;
            }

            if (pr.GetValue(json))
            {
                Console.Out.WriteLine(report.ToJson());
            }
            else
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"trained {report.Steps} steps: loss {report.TrainLoss:F4}, validation NELBO perplexity {report.ValidationPerplexity:F3}, {report.TokensPerSecond:F0} tokens/s; model: {report.ModelPath}"));
            }

            return 0;
        });
        return cmd;
    }

    internal static EsoLmVariant ParseVariant(string value) => value.ToUpperInvariant() switch
    {
        "A" => EsoLmVariant.A,
        "B" => EsoLmVariant.B,
        "MDLM" => EsoLmVariant.Mdlm,
        _ => throw new ArgumentOutOfRangeException(nameof(value), value, "--variant must be A, B or MDLM."),
    };

    /// <summary>
    /// Runs a training job (shared with <c>esolm demo</c>). Every setting, the output path, the corpus size and the memory
    /// the run needs are checked before the first step. When <paramref name="cancellationToken"/> fires, the current step
    /// finishes, the checkpoint and the model are written and <see cref="TrainingInterruptedException"/> says how to resume.
    /// </summary>
    internal static TrainReport Run(TrainSettings s, string? label = null, CancellationToken cancellationToken = default)
    {
        var objective = new ObjectiveOptions { Alpha0 = s.Alpha0, Variant = s.Variant };
        objective.Validate();
        var options = new TrainerOptions
        {
            Steps = s.Steps,
            BatchSize = s.Batch,
            GradientAccumulation = s.GradAccum,
            LearningRate = s.LearningRate,
            WarmupSteps = s.Warmup,
            Decay = s.Cosine ? LearningRateDecay.Cosine : LearningRateDecay.Constant,
            Dropout = s.Dropout,
            Seed = s.Seed,
            EmaDecay = 0.999,
            CheckpointInterval = s.CheckpointEvery,
        };
        Named(options.Validate);
        Option(s.Length >= 1 && s.Length <= ModelConfig.MaxContextLength, "--length", s.Length, $"must be in [1, {ModelConfig.MaxContextLength}]");
        Option(s.Layers >= 1 && s.Layers <= ModelConfig.MaxLayers, "--layers", s.Layers, $"must be in [1, {ModelConfig.MaxLayers}]");
        Option(s.Hidden >= 2 && s.Hidden <= ModelConfig.MaxWidth, "--hidden", s.Hidden, $"must be in [2, {ModelConfig.MaxWidth}]");
        CliFiles.RequireWritableTarget(s.Output, "--out");
        if (s.Resume is not null)
        {
            CliFiles.RequireFile(s.Resume, "--resume", "Checkpoint");
        }

        var docs = CorpusSource.Documents(s.Corpus, s.Seed, s.Documents);
        var tok = CorpusSource.Tokenizer(s.Tokenizer, s.Corpus, docs);
        Option(TokenizerVocabulary.Of(tok).ModelVocabularySize <= ModelConfig.MaxVocabSize, "--tokenizer", s.Tokenizer ?? "(default)",
            $"gives {TokenizerVocabulary.Of(tok).Size} ids, more than a model can hold ({ModelConfig.MaxVocabSize - 1} + the mask)");
        var config = new ModelConfig
        {
            VocabSize = TokenizerVocabulary.Of(tok).ModelVocabularySize,
            MaskTokenId = TokenizerVocabulary.Of(tok).ModelMaskTokenId,
            HiddenSize = s.Hidden,
            Heads = s.Heads,
            Layers = s.Layers,
            CondDim = Math.Min(128, s.Hidden),
            ContextLength = s.Length,
        };
        Named(config.Validate);
        CheckMemory(config, s);

        var data = TokenDataset.FromDocuments(docs, tok, s.Length, 0.05);
        if (data.TrainRows < 1 || data.ValidationRows < 1)
        {
            throw new ArgumentException(
                $"The corpus gives {data.TrainRows + data.ValidationRows} row(s) of --length {s.Length} tokens; training needs at least 2 " +
                "(5% of the rows, at least one, are held out for validation). Use more text or a shorter --length.", "--corpus");
        }

        var compute = BackendOption.Resolve(s.Backend, s.Threads);
        EsoLmTrainer trainer;
        if (s.Resume is not null)
        {
            var resume = ResolveCheckpoint(s.Resume);
            EsoLmTrainer.EnsureSameConfig(config, resume);
            trainer = EsoLmTrainer.Resume(resume, objective, options, data, compute);
        }
        else
        {
            trainer = new EsoLmTrainer(config, objective, options, data, compute, tok.Describe());
        }

        var checkpoint = s.Output + ".ckpt";
        TrainingProgress last = default;
        bool interrupted = false;
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(label ?? "training", maxValue: options.Steps);
                task.Value = trainer.Step;
                try
                {
                    last = trainer.Train(new InlineProgress(p =>
                    {
                        task.Value = p.Step;
                        task.Description = string.Create(CultureInfo.InvariantCulture, $"{(label is null ? "" : label + ": ")}step {p.Step}/{p.TotalSteps} loss {p.Loss:F3} {p.TokensPerSecond:F0} tok/s");
                    }), checkpoint, cancellationToken);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    interrupted = true;
                }
            });
        if (interrupted)
        {
            trainer.SaveCheckpoint(checkpoint);
            trainer.SaveModel(s.Output);
            throw new TrainingInterruptedException(string.Create(CultureInfo.InvariantCulture,
                $"interrupted after step {trainer.Step} of {options.Steps}; wrote the checkpoint '{checkpoint}' and the model '{s.Output}'. Resume with: {ResumeCommand(s, checkpoint)}"));
        }

        var nelbo = trainer.ValidationNelbo(cancellationToken: CancellationToken.None); // seconds at most; the run is complete
        trainer.SaveModel(s.Output, new Dictionary<string, string> { ["esolm.validation_nelbo_ppl"] = nelbo.Perplexity.ToString("R", CultureInfo.InvariantCulture) });
        return new TrainReport(trainer.Step, last.Loss, nelbo.Perplexity, last.TokensPerSecond, last.Elapsed.TotalSeconds, s.Output, checkpoint, trainer, tok);
    }

    /// <summary>
    /// The checkpoint to resume from: <paramref name="path"/> itself when it is a checkpoint, or, when it is a model file
    /// written by <c>esolm train</c>, the checkpoint <c>PATH.ckpt</c> that sits beside it.
    /// </summary>
    internal static string ResolveCheckpoint(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"--resume: '{path}' does not exist (give a checkpoint, OUT.ckpt, or the model file OUT written beside it).", path);
        }

        string? format;
        using (var reader = SafetensorsReader.Open(path))
        {
            format = reader.Metadata.TryGetValue("format", out var f) ? f : null;
        }

        if (format != ModelFile.FormatName)
        {
            return path; // a checkpoint (or not: Checkpoint.Load says what is wrong with it)
        }

        var beside = path + ".ckpt";
        return File.Exists(beside)
            ? beside
            : throw new ArgumentException(
                $"--resume: '{path}' is a model file, not a training checkpoint, and no checkpoint '{beside}' sits beside it (esolm train writes OUT.ckpt next to OUT).",
                nameof(path));
    }

    /// <summary>The <c>esolm train</c> command line that continues <paramref name="s"/> from <paramref name="checkpoint"/>.</summary>
    internal static string ResumeCommand(TrainSettings s, string checkpoint)
    {
        var inv = CultureInfo.InvariantCulture;
        var parts = new List<string> { "esolm", "train", "--corpus" };
        parts.AddRange(s.Corpus.Select(Quote));
        if (s.Tokenizer is not null)
        {
            parts.AddRange(["--tokenizer", Quote(s.Tokenizer)]);
        }

        parts.AddRange([
            "--variant", s.Variant.ToString().ToUpperInvariant(), "--alpha0", s.Alpha0.ToString("R", inv), "--layers", s.Layers.ToString(inv),
            "--hidden", s.Hidden.ToString(inv), "--heads", s.Heads.ToString(inv), "--length", s.Length.ToString(inv), "--batch", s.Batch.ToString(inv),
            "--steps", s.Steps.ToString(inv), "--lr", s.LearningRate.ToString("R", inv), "--warmup", s.Warmup.ToString(inv),
            "--dropout", s.Dropout.ToString("R", inv), "--seed", s.Seed.ToString(inv), "--documents", s.Documents.ToString(inv),
        ]);
        if (s.GradAccum != 1)
        {
            parts.AddRange(["--grad-accum", s.GradAccum.ToString(inv)]);
        }

        if (s.Cosine)
        {
            parts.Add("--cosine");
        }

        parts.AddRange(["--out", Quote(s.Output), "--resume", Quote(checkpoint)]);
        return string.Join(' ', parts);

        static string Quote(string value) => value.Length > 0 && value.All(c => char.IsLetterOrDigit(c) || "-_./:=+,".Contains(c, StringComparison.Ordinal))
            ? value : "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }

    /// <summary>Refuses a run whose weights, optimizer state and activations cannot fit, naming the settings that drive the estimate.</summary>
    private static void CheckMemory(ModelConfig config, TrainSettings s)
    {
        var (weights, activations, vocabulary) = MemoryBudget.TrainingBytes(config, s.Batch, s.Length);
        long total = weights > long.MaxValue - activations ? long.MaxValue : weights + activations;
        string primary = vocabulary * 2 >= total && config.VocabSize > 65536 ? "--tokenizer"
            : activations >= weights ? (s.Batch >= s.Length ? "--batch" : "--length")
            : s.Layers * 32 >= s.Hidden ? "--layers" : "--hidden";
        string lower = primary switch
        {
            "--tokenizer" => "--tokenizer (a smaller vocabulary)",
            "--batch" => "--batch (or --length)",
            "--length" => "--length (or --batch)",
            _ => primary + " (or --layers/--hidden)",
        };
        long available = MemoryBudget.Available();
        if (total > available)
        {
            throw new ArgumentOutOfRangeException(primary, string.Create(CultureInfo.InvariantCulture,
                $"Training {config.ParameterCount()} parameters (--layers {s.Layers}, --hidden {s.Hidden}, vocabulary {config.VocabSize} from --tokenizer) " +
                $"on batches of --batch {s.Batch} × --length {s.Length} tokens needs about {MemoryBudget.Format(total)} " +
                $"(weights and optimizer state {MemoryBudget.Format(weights)}, activations {MemoryBudget.Format(activations)}), more than this process can " +
                $"allocate (about {MemoryBudget.Format(available)}): lower {lower}."));
        }
    }

    /// <summary>Runs a library validation, renaming its setting to the command-line option that sets it.</summary>
    private static void Named(Action validate)
    {
        try
        {
            validate();
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName is { } name && OptionNames.TryGetValue(name, out var option))
        {
            var message = Program.ErrorLine(e);
            throw new ArgumentOutOfRangeException(option, e.ActualValue, $"{option}: {message}");
        }
    }

    private static readonly Dictionary<string, string> OptionNames = new(StringComparer.Ordinal)
    {
        ["Steps"] = "--steps", ["BatchSize"] = "--batch", ["GradientAccumulation"] = "--grad-accum", ["LearningRate"] = "--lr", ["WarmupSteps"] = "--warmup", ["Dropout"] = "--dropout",
        ["CheckpointInterval"] = "--checkpoint-every", ["VocabSize"] = "--tokenizer", ["HiddenSize"] = "--hidden", ["Heads"] = "--heads",
        ["Layers"] = "--layers", ["ContextLength"] = "--length", ["CondDim"] = "--hidden",
    };

    private static void Option(bool ok, string option, object value, string rule)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(option, value, string.Create(CultureInfo.InvariantCulture, $"{option} {value} {rule}."));
        }
    }

    internal sealed record TrainSettings(IReadOnlyList<string> Corpus, string? Tokenizer, EsoLmVariant Variant, double Alpha0, int Layers, int Hidden, int Heads,
        int Length, int Batch, int Steps, double LearningRate, int Warmup, bool Cosine, float Dropout, ulong Seed, int Threads, int Documents,
        int CheckpointEvery, string Output, string? Resume, string Backend = "cpu", int GradAccum = 1);

    internal sealed record TrainReport(int Steps, double TrainLoss, double ValidationPerplexity, double TokensPerSecond, double Seconds, string ModelPath,
        string CheckpointPath, EsoLmTrainer Trainer, Tokenizer Tokenizer)
    {
        public string ToJson()
        {
            using var stream = new MemoryStream();
            using (var w = new Utf8JsonWriter(stream))
            {
                w.WriteStartObject();
                w.WriteNumber("steps", Steps);
                w.WriteNumber("train_loss", TrainLoss);
                w.WriteNumber("val_nelbo_ppl", ValidationPerplexity);
                w.WriteNumber("tokens_per_second", TokensPerSecond);
                w.WriteNumber("seconds", Seconds);
                w.WriteString("model", ModelPath);
                w.WriteString("checkpoint", CheckpointPath);
                w.WriteEndObject();
            }

            return System.Text.Encoding.UTF8.GetString(stream.ToArray());
        }
    }

    /// <summary>Training stopped on Ctrl+C or SIGTERM after writing its checkpoint and model; the message says how to resume.</summary>
    internal sealed class TrainingInterruptedException(string message) : Exception(message);

    private sealed class InlineProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
