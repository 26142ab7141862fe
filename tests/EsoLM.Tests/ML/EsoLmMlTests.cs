using System.Diagnostics;
using EsoLM.Evaluation;
using EsoLM.Hosting;
using EsoLM.ML;
using EsoLM.Pipeline;
using EsoLM.Training;
using EsoLM.Text;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EsoLM.Tests.ML;

public sealed class EsoLmMlTests
{
    [Fact]
    public void Fit_then_Transform_adds_the_generated_text_and_it_matches_the_core_generator()
    {
        var ml = new MLContext(seed: 1);
        var rows = MlFixtures.CheckRows();
        var output = MlFixtures.Trained.Transform(ml.Data.LoadFromEnumerable(rows));
        Assert.Equal(TextDataViewType.Instance, output.Schema["GeneratedText"].Type);
        var generated = output.GetColumn<ReadOnlyMemory<char>>(output.Schema["GeneratedText"]).Select(m => m.ToString()).ToArray();

        // Independent path: the core generator, one request at a time, with the row's prompt and seed.
        var generator = new EsoLmGenerator(MlFixtures.Trained.Model, new EsoLmOptions { Steps = 4, MaxNewTokens = 12, AlphaEval = 1.0 });
        var expected = rows.Select(r => generator.Generate(new GenerationRequest(r.Prompt) { Seed = r.Seed }).Completion).ToArray();
        Assert.Equal(expected, generated);
        Assert.Contains(generated, g => g.Length > 0);
        Assert.Equal(rows.Select(r => r.Text), output.GetColumn<ReadOnlyMemory<char>>(output.Schema["Text"]).Select(m => m.ToString())); // pass-through
    }

    [Fact]
    public void Scores_equal_the_NELBO_evaluator_on_the_rows_tokens_and_do_not_depend_on_the_batch()
    {
        var ml = new MLContext(seed: 1);
        var rows = MlFixtures.CheckRows().Select(r => new TextRow { Text = r.Text.Length > 24 ? r.Text[..24] : r.Text }).ToArray(); // one context each
        var model = MlFixtures.Trained.Model;
        var options = new EsoLmScoringOptions { Samples = 4, BatchSize = 3 };
        var scored = ml.Data.CreateEnumerable<ScoredRow>(ml.Transforms.Text.ScoreWithEsoLm(model, options).Fit(ml.Data.LoadFromEnumerable(rows))
            .Transform(ml.Data.LoadFromEnumerable(rows)), reuseRowObject: false, ignoreMissingColumns: true).ToArray();
        var one = ml.Data.CreateEnumerable<ScoredRow>(ml.Transforms.Text.ScoreWithEsoLm(model, new EsoLmScoringOptions { Samples = 4, BatchSize = 1 })
            .Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows)), reuseRowObject: false, ignoreMissingColumns: true).ToArray();
        Assert.Equal(scored.Select(s => s.Nelbo), one.Select(s => s.Nelbo));

        var objective = Checkpoint.ParseObjective(model.Metadata[EsoLmEstimator.ObjectiveMetadataKey]);
        for (int i = 0; i < rows.Length; i++)
        {
            // Independent: the evaluator over the text's ids + end-of-text as one row of 4 copies (all texts fit the context).
            int[] ids = [.. model.Tokenizer.Encode(rows[i].Text), TokenizerVocabulary.Of(model.Tokenizer).EndOfTextId!.Value];
            Assert.True(ids.Length <= model.Config.ContextLength);
            var reference = NelboEvaluator.Evaluate(model.Transformer, objective, 4, ids.Length, _ => ids, 4, 1);
            Assert.Equal((float)reference.NllPerToken, scored[i].Nelbo);
            Assert.Equal((float)Math.Exp(reference.NllPerToken), scored[i].Perplexity, 5);
            Assert.True(scored[i].Nelbo > 0);
        }
    }

    [Fact]
    public void Texts_longer_than_the_context_are_scored_over_all_their_chunks()
    {
        var ml = new MLContext(seed: 1);
        var model = MlFixtures.Trained.Model;
        string a = MlFixtures.Documents(3, 1)[0].Text[..20];
        string b = MlFixtures.Documents(4, 1)[0].Text[..20];
        // 20 + 20 chars + end-of-text = 41 tokens = a full 32-token row (the first 32 chars) + a 9-token row.
        string text = a + b;
        var scored = ml.Data.CreateEnumerable<ScoredRow>(ml.Transforms.Text.ScoreWithEsoLm(model, new EsoLmScoringOptions { Samples = 2 })
            .Fit(ml.Data.LoadFromEnumerable(new[] { new TextRow { Text = text } })).Transform(ml.Data.LoadFromEnumerable(new[] { new TextRow { Text = text } })),
            reuseRowObject: false, ignoreMissingColumns: true).Single();
        var objective = Checkpoint.ParseObjective(model.Metadata[EsoLmEstimator.ObjectiveMetadataKey]);
        int[] ids = [.. model.Tokenizer.Encode(text), TokenizerVocabulary.Of(model.Tokenizer).EndOfTextId!.Value];
        var first = NelboEvaluator.Evaluate(model.Transformer, objective, 2, 32, _ => ids.AsMemory(0, 32), 2, 1);
        var second = NelboEvaluator.Evaluate(model.Transformer, objective, 2, ids.Length - 32, _ => ids.AsMemory(32), 2, 1);
        double expected = (first.NllPerToken * first.Tokens + second.NllPerToken * second.Tokens) / (first.Tokens + second.Tokens);
        Assert.Equal((float)expected, scored.Nelbo);
    }

    [Fact]
    public void Text_with_characters_never_seen_in_training_is_scored()
    {
        var ml = new MLContext(seed: 1);
        var rows = new[] { new TextRow { Text = "Ærø 123 ¿qué? 😀" } };
        Assert.NotNull(MlFixtures.Trained.Model.Tokenizer.Encode("Ø")); // the trained char tokenizer has an unknown-character token
        var nelbo = ml.Transforms.Text.ScoreWithEsoLm(MlFixtures.Trained.Model, new EsoLmScoringOptions { Samples = 2 })
            .Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows)).GetColumn<float>("Nelbo").Single();
        Assert.True(float.IsFinite(nelbo) && nelbo > 0, $"NELBO {nelbo}");
    }

    [Fact]
    public void A_pipeline_mixing_ML_NET_stages_trains_a_classifier_on_the_perplexity_and_evaluates_it()
    {
        // Grammatical texts (label true) against the same letters in random order (label false); the Eso-LM was trained on
        // grammatical text only, so its perplexity separates the classes.
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(MlFixtures.Documents(21, 40).Concat(MlFixtures.Noise(21, 40)).ToArray());
        var test = ml.Data.LoadFromEnumerable(MlFixtures.Documents(22, 30).Concat(MlFixtures.Noise(22, 30)).ToArray());
        var pipeline = ml.Transforms.Text.NormalizeText("Norm", "Text", keepPunctuations: true, keepNumbers: true)
            .Append(ml.Transforms.Text.ScoreWithEsoLm(MlFixtures.Trained.Model, new EsoLmScoringOptions { InputColumnName = "Norm", Samples = 4 }))
            .Append(ml.Transforms.Concatenate("Features", "Nelbo"))
            .AppendCacheCheckpoint(ml)
            .Append(ml.BinaryClassification.Trainers.LbfgsLogisticRegression());
        var model = pipeline.Fit(train);
        var metrics = ml.BinaryClassification.Evaluate(model.Transform(test));
        Assert.True(metrics.AreaUnderRocCurve > 0.9, $"AUC {metrics.AreaUnderRocCurve:F3}");
        Assert.True(metrics.Accuracy > 0.8, $"accuracy {metrics.Accuracy:F3}");
    }

    [Fact]
    public void Save_then_load_in_a_fresh_process_gives_identical_outputs()
    {
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.LoadFromEnumerable(MlFixtures.CheckRows());
        var model = MlFixtures.MixedPipeline(ml).Fit(rows);
        var expected = MlFixtures.Describe(ml, model.Transform(rows));

        var dir = Directory.CreateTempSubdirectory("esolm-ml-");
        try
        {
            string zip = Path.Combine(dir.FullName, "pipeline.zip");
            string output = Path.Combine(dir.FullName, "child.txt");
            ml.Model.Save(model, rows.Schema, zip);
            using (var archive = System.IO.Compression.ZipFile.OpenRead(zip))
            {
                Assert.Equal(2, archive.Entries.Count(e => e.Name == EsoLmModelOperations.EntryName)); // the weights are in the zip
            }

            var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
            var start = new ProcessStartInfo(dotnet) { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var arg in new[] { "exec", typeof(EsoLmMlTests).Assembly.Location, "mlnet-load", zip, output })
            {
                start.ArgumentList.Add(arg);
            }

            using var child = Process.Start(start)!;
            string stderr = child.StandardError.ReadToEnd();
            child.StandardOutput.ReadToEnd();
            child.WaitForExit();
            Assert.True(child.ExitCode == 0, $"child exited with {child.ExitCode}: {stderr}");
            Assert.Equal(expected, File.ReadAllLines(output));

            // In this process too, and plain mlContext.Model.Load stops with an error that names the right call.
            var loaded = ml.Model.LoadWithEsoLm(zip, out var schema);
            Assert.Equal(expected, MlFixtures.Describe(ml, loaded.Transform(rows)));
            Assert.Equal(rows.Schema.Select(c => c.Name), schema.Select(c => c.Name));
            var ex = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(zip, out _));
            Assert.Contains("LoadWithEsoLm", ex.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_single_saved_stage_loads_back_as_itself_and_a_damaged_entry_is_reported()
    {
        var ml = new MLContext(seed: 1);
        var rows = ml.Data.LoadFromEnumerable(MlFixtures.CheckRows().Select(r => new TextRow { Text = r.Text[..Math.Min(20, r.Text.Length)] }).ToArray());
        var scorer = ml.Transforms.Text.ScoreWithEsoLm(MlFixtures.Trained.Model, new EsoLmScoringOptions { Samples = 2, PerplexityColumnName = "Ppl" }).Fit(rows);
        using var zip = new MemoryStream();
        ml.Model.Save(scorer, rows.Schema, zip);
        var bytes = zip.ToArray();
        var loaded = Assert.IsType<EsoLmScoringTransformer>(ml.Model.LoadWithEsoLm(new MemoryStream(bytes), out _));
        Assert.Equal("Ppl", loaded.Options.PerplexityColumnName);
        Assert.Equal(scorer.Transform(rows).GetColumn<float>("Ppl"), loaded.Transform(rows).GetColumn<float>("Ppl"));

        // Rewrite the Eso-LM entry with an unknown format version.
        using var damaged = new MemoryStream();
        damaged.Write(bytes);
        using (var archive = new System.IO.Compression.ZipArchive(damaged, System.IO.Compression.ZipArchiveMode.Update, leaveOpen: true))
        {
            var entry = archive.Entries.Single(e => e.Name == EsoLmModelOperations.EntryName);
            byte[] content;
            using (var s = entry.Open())
            using (var copy = new MemoryStream())
            {
                s.CopyTo(copy);
                content = copy.ToArray();
            }

            content[8] = 99; // after the 8-byte magic: the version
            string name = entry.FullName;
            entry.Delete();
            using var w = archive.CreateEntry(name).Open();
            w.Write(content);
        }

        damaged.Position = 0;
        var ex = Assert.Throws<InvalidDataException>(() => ml.Model.LoadWithEsoLm(damaged, out _));
        Assert.Contains("version 99", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Schema_errors_come_before_any_work()
    {
        var ml = new MLContext(seed: 1);
        var numbers = ml.Data.LoadFromEnumerable(new[] { new NumberRow { Text = 1f, Other = "x" } });
        var trainer = ml.Transforms.Text.TrainEsoLm(MlFixtures.TrainingOptions());
        var scorer = ml.Transforms.Text.ScoreWithEsoLm(MlFixtures.Trained.Model, new EsoLmScoringOptions { InputColumnName = "Missing" });
        var generator = ml.Transforms.Text.GenerateWithEsoLm(MlFixtures.Trained.Model, new EsoLmGenerationOptions { PromptColumnName = "Text" });

        // Estimators: SchemaShape propagation (what a pipeline checks before fitting), a non-text and a missing column.
        var shape = SchemaShapeOf(ml, numbers);
        var nonText = Assert.Throws<ArgumentOutOfRangeException>(() => trainer.GetOutputSchema(shape));
        Assert.Contains("'Text'", nonText.Message, StringComparison.Ordinal);
        Assert.Contains("text", nonText.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => scorer.GetOutputSchema(shape));
        Assert.Contains("no column 'Missing'", missing.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => generator.GetOutputSchema(shape));
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Text.GenerateWithEsoLm(MlFixtures.Trained.Model,
            new EsoLmGenerationOptions { SeedColumnName = "Other" }).GetOutputSchema(shape)); // a text seed column

        // Training refuses before any step, and a chain whose later stage lacks its column fails at Fit before the Eso-LM trains.
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Fit(numbers));
        var steps = 0;
        var options = MlFixtures.TrainingOptions();
        options.InputColumnName = "Other";
        options.Progress = new SyncProgress(_ => steps++);
        var chain = ml.Transforms.Text.TrainEsoLm(options).Append(scorer);
        Assert.Throws<ArgumentOutOfRangeException>(() => chain.Fit(numbers));
        Assert.Equal(0, steps);

        // Transformers: DataViewSchema.
        Assert.Throws<ArgumentOutOfRangeException>(() => MlFixtures.Trained.Transform(numbers));
        Assert.Throws<ArgumentOutOfRangeException>(() => MlFixtures.Trained.GetOutputSchema(numbers.Schema));

        // A good schema passes and shapes the outputs.
        var good = SchemaShapeOf(ml, ml.Data.LoadFromEnumerable(MlFixtures.CheckRows()));
        var scoredShape = ml.Transforms.Text.ScoreWithEsoLm(MlFixtures.Trained.Model, new EsoLmScoringOptions()).GetOutputSchema(good);
        Assert.Contains(scoredShape, c => c.Name == "Perplexity" && c.ItemType == NumberDataViewType.Single && c.Kind == SchemaShape.Column.VectorKind.Scalar);
        Assert.Contains(trainer.GetOutputSchema(good), c => c.Name == "GeneratedText" && c.ItemType is TextDataViewType);

        // Options are checked when the stage is made.
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Text.TrainEsoLm(new EsoLmTrainingOptions { Backend = "tpu" }));
        Assert.Contains("tpu", bad.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Text.GenerateWithEsoLm(MlFixtures.Trained.Model, new EsoLmGenerationOptions { TopP = 0 }));
    }

    [Fact]
    public void Training_reports_progress_and_can_be_cancelled()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(MlFixtures.Documents(5, 20));
        var steps = new List<int>();
        using var cts = new CancellationTokenSource();
        var options = MlFixtures.TrainingOptions();
        options.Steps = 50;
        options.Progress = new SyncProgress(p =>
        {
            steps.Add(p.Step);
            if (p.Step == 3)
            {
                cts.Cancel();
            }
        });
        options.CancellationToken = cts.Token;
        Assert.ThrowsAny<OperationCanceledException>(() => ml.Transforms.Text.TrainEsoLm(options).Fit(data));
        Assert.Equal([1, 2, 3], steps);

        options.Progress = null;
        options.CancellationToken = default;
        options.Steps = 2;
        var reported = new List<TrainingProgress>();
        ml.Transforms.Text.TrainEsoLm(options).Fit(data, new SyncProgress(reported.Add), CancellationToken.None);
        Assert.Equal(2, reported[^1].TotalSteps);
    }

    [Fact]
    public void PredictionEngine_gives_what_Transform_gives_for_the_same_seeds()
    {
        var ml = new MLContext(seed: 1);
        var rows = MlFixtures.CheckRows();
        var model = MlFixtures.MixedPipeline(ml).Fit(ml.Data.LoadFromEnumerable(rows));
        var expected = ml.Data.CreateEnumerable<ScoredRow>(model.Transform(ml.Data.LoadFromEnumerable(rows)), reuseRowObject: false, ignoreMissingColumns: true).ToArray();
        using var engine = ml.Model.CreatePredictionEngine<TextRow, ScoredRow>(model);
        for (int i = 0; i < rows.Length; i++)
        {
            var predicted = engine.Predict(rows[i]);
            Assert.Equal(expected[i].GeneratedText, predicted.GeneratedText);
            Assert.Equal(expected[i].Nelbo, predicted.Nelbo);
            Assert.Equal(expected[i].Perplexity, predicted.Perplexity);
        }
    }

    [Fact]
    public void Without_a_prompt_or_seed_column_generation_is_unconditional_and_seeded_by_position()
    {
        var ml = new MLContext(seed: 1);
        var rows = MlFixtures.CheckRows();
        var stage = ml.Transforms.Text.GenerateWithEsoLm(MlFixtures.Trained.Model, new EsoLmGenerationOptions { OutputColumnName = "Sample", Seed = 1000, MaxTokens = 10, Steps = 4 });
        var output = stage.Fit(ml.Data.LoadFromEnumerable(rows)).Transform(ml.Data.LoadFromEnumerable(rows));
        var samples = output.GetColumn<ReadOnlyMemory<char>>(output.Schema["Sample"]).Select(m => m.ToString()).ToArray();
        var generator = new EsoLmGenerator(MlFixtures.Trained.Model, new EsoLmOptions { Steps = 4, MaxNewTokens = 10, AlphaEval = 1.0 });
        Assert.Equal(rows.Select((_, i) => generator.Generate(new GenerationRequest(string.Empty) { Seed = 1000UL + (ulong)i }).Completion), samples);
    }

    // SchemaShape.Create is internal to ML.NET (EstimatorChain.Fit calls it); the test reaches it to check propagation directly.
    private static SchemaShape SchemaShapeOf(MLContext ml, IDataView data) =>
        (SchemaShape)typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static, [typeof(DataViewSchema)])!
            .Invoke(null, [data.Schema])!;

    public sealed class NumberRow
    {
        public float Text { get; set; }

        public string Other { get; set; } = string.Empty;
    }

    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
