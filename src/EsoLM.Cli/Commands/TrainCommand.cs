using System.CommandLine;
using System.Globalization;
using System.Text.Json;
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
        var resume = new Option<string?>("--resume") { Description = "Checkpoint to continue from." };
        var json = BenchCommand.JsonOption();
        var cmd = new Command("train", "Train an Eso-LM on the built-in language or your text.")
        {
            corpus, tokenizer, variant, alpha0, layers, hidden, heads, length, batch, steps, lr, warmup, cosine, dropout, seed, threads, documents,
            checkpointEvery, output, resume, json,
        };
        cmd.SetAction(pr =>
        {
            var settings = new TrainSettings(
                pr.GetValue(corpus)!, pr.GetValue(tokenizer), ParseVariant(pr.GetValue(variant)!), pr.GetValue(alpha0), pr.GetValue(layers), pr.GetValue(hidden),
                pr.GetValue(heads), pr.GetValue(length), pr.GetValue(batch), pr.GetValue(steps), pr.GetValue(lr), pr.GetValue(warmup), pr.GetValue(cosine),
                pr.GetValue(dropout), pr.GetValue(seed), pr.GetValue(threads), pr.GetValue(documents), pr.GetValue(checkpointEvery), pr.GetValue(output)!,
                pr.GetValue(resume));
            var report = Run(settings);
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

    /// <summary>Runs a training job (shared with <c>esolm demo</c>).</summary>
    internal static TrainReport Run(TrainSettings s, string? label = null)
    {
        var objective = new ObjectiveOptions { Alpha0 = s.Alpha0, Variant = s.Variant };
        objective.Validate();
        var docs = CorpusSource.Documents(s.Corpus, s.Seed, s.Documents);
        var tok = CorpusSource.Tokenizer(s.Tokenizer, s.Corpus, docs);
        var data = TokenDataset.FromDocuments(docs, tok, s.Length, 0.05);
        var options = new TrainerOptions
        {
            Steps = s.Steps,
            BatchSize = s.Batch,
            LearningRate = s.LearningRate,
            WarmupSteps = Math.Min(s.Warmup, s.Steps),
            Decay = s.Cosine ? LearningRateDecay.Cosine : LearningRateDecay.Constant,
            Dropout = s.Dropout,
            Seed = s.Seed,
            EmaDecay = 0.999,
            CheckpointInterval = s.CheckpointEvery,
        };
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
        var compute = new ComputeContext(s.Threads);
        EsoLmTrainer trainer;
        if (s.Resume is not null)
        {
            EsoLmTrainer.EnsureSameConfig(config, s.Resume);
            trainer = EsoLmTrainer.Resume(s.Resume, objective, options, data, compute);
        }
        else
        {
            trainer = new EsoLmTrainer(config, objective, options, data, compute, tok.Describe());
        }

        var checkpoint = s.Output + ".ckpt";
        TrainingProgress last = default;
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask(label ?? "training", maxValue: options.Steps);
                task.Value = trainer.Step;
                last = trainer.Train(new InlineProgress(p =>
                {
                    task.Value = p.Step;
                    task.Description = string.Create(CultureInfo.InvariantCulture, $"{(label is null ? "" : label + ": ")}step {p.Step}/{p.TotalSteps} loss {p.Loss:F3} {p.TokensPerSecond:F0} tok/s");
                }), checkpoint);
            });
        var nelbo = trainer.ValidationNelbo();
        trainer.SaveModel(s.Output, new Dictionary<string, string> { ["esolm.validation_nelbo_ppl"] = nelbo.Perplexity.ToString("R", CultureInfo.InvariantCulture) });
        return new TrainReport(trainer.Step, last.Loss, nelbo.Perplexity, last.TokensPerSecond, last.Elapsed.TotalSeconds, s.Output, checkpoint, trainer, tok);
    }

    internal sealed record TrainSettings(IReadOnlyList<string> Corpus, string? Tokenizer, EsoLmVariant Variant, double Alpha0, int Layers, int Hidden, int Heads,
        int Length, int Batch, int Steps, double LearningRate, int Warmup, bool Cosine, float Dropout, ulong Seed, int Threads, int Documents,
        int CheckpointEvery, string Output, string? Resume);

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

    private sealed class InlineProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
