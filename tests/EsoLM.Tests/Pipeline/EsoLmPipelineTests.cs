using EsoLM.Hosting;
using EsoLM.Pipeline;
using EsoLM.Tests.DependencyInjection;
using EsoLM.Data;
using EsoLM.Training;

namespace EsoLM.Tests.Pipeline;

public sealed class EsoLmPipelineTests
{
    private static readonly Lazy<EsoLmTransformer> Trained = new(() => Estimator().Fit(BuiltInLanguage.CreateGenerator(3).Documents(40, 2)));

    private static EsoLmEstimator Estimator() => new(new EsoLmEstimatorOptions
    {
        Tokenizer = TinyModels.Tokenizer,
        ContextLength = 24,
        HiddenSize = 32,
        Heads = 4,
        Layers = 2,
        CondDim = 8,
        MlpRatio = 2,
        Threads = 1,
        Trainer = new TrainerOptions { Steps = 4, BatchSize = 4, WarmupSteps = 1, LearningRate = 3e-3, Seed = 2 },
        Generation = new EsoLmOptions { Steps = 4, MaxNewTokens = 12 },
    });

    private static GenerationRequest Row(int i) => new("the ") { Seed = (ulong)(40 + i) };

    [Fact]
    public void Fit_reports_progress_and_records_the_objective()
    {
        var progress = new List<TrainingProgress>();
        var transformer = Estimator().Fit(BuiltInLanguage.CreateGenerator(3).Documents(40, 2), new SyncProgress(progress.Add));
        Assert.Equal(4, progress[^1].Step);
        var objective = Checkpoint.ParseObjective(transformer.Model.Metadata[EsoLmEstimator.ObjectiveMetadataKey]);
        Assert.Equal(Estimator().Options.Objective.Alpha0, objective.Alpha0);
        Assert.Equal(Estimator().Options.Objective.Variant, objective.Variant);
    }

    [Fact]
    public void Transformer_batches_equal_one_request_at_a_time()
    {
        // Mixed prompts (different lengths, so several sampler batches) and seeds; the batched path must give exactly what
        // the single-request path gives for each request.
        var rows = Enumerable.Range(0, 7).Select(i => new GenerationRequest(i % 3 == 0 ? string.Empty : i % 3 == 1 ? "the " : "a b ") { Seed = (ulong)(90 + i) }).ToArray();
        var batched = Trained.Value.GenerateBatch(rows);
        var single = rows.Select(r => Trained.Value.Generator.Generate(r)).ToArray();
        Assert.Equal(single.Select(r => r.Completion), batched.Select(r => r.Completion));
        Assert.Equal(single.Select(r => string.Join(",", r.TokenIds)), batched.Select(r => string.Join(",", r.TokenIds)));
        Assert.Equal(single.Select(r => r.ForwardPasses), batched.Select(r => r.ForwardPasses));
    }

    [Fact]
    public void Fit_honours_cancellation()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => Estimator().Fit(BuiltInLanguage.CreateGenerator(3).Documents(40, 2), null, cts.Token));
    }

    [Fact]
    public void Transform_is_lazy()
    {
        int read = 0;
        IEnumerable<GenerationRequest> Rows()
        {
            for (int i = 0; i < 5; i++)
            {
                read++;
                yield return Row(i);
            }
        }

        var results = Trained.Value.Transform(Rows());
        Assert.Equal(0, read);
        using var e = results.GetEnumerator();
        Assert.True(e.MoveNext());
        Assert.Equal(1, read);
        Assert.Throws<ArgumentNullException>(() => Trained.Value.Transform(null!)); // eager argument check
    }

    [Fact]
    public void Save_and_load_round_trip_gives_identical_generations()
    {
        var rows = Enumerable.Range(0, 4).Select(Row).ToArray();
        var before = Trained.Value.Transform(rows).Select(r => r.Completion).ToArray();
        using var stream = new MemoryStream();
        Trained.Value.Save(stream);
        stream.Position = 0;
        var loaded = EsoLmTransformer.Load(stream);
        Assert.Equal(before, loaded.Transform(rows).Select(r => r.Completion).ToArray());
        Assert.Equal(4, loaded.Options.Steps);

        var bad = stream.ToArray();
        bad[8] = 99; // version
        var ex = Assert.Throws<InvalidDataException>(() => EsoLmTransformer.Load(new MemoryStream(bad)));
        Assert.Contains("version 99", ex.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => EsoLmTransformer.Load(new MemoryStream(bad.AsSpan(0, 10).ToArray())));
    }

    [Fact]
    public async Task Concurrent_transform_calls_are_safe_and_deterministic()
    {
        var rows = Enumerable.Range(0, 8).Select(Row).ToArray();
        var expected = Trained.Value.Transform(rows).Select(r => r.Completion).ToArray();
        var parallel = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => Trained.Value.Transform(rows).Select(r => r.Completion).ToArray())));
        Assert.All(parallel, p => Assert.Equal(expected, p));
    }

    [Fact]
    public async Task Sessions_stream_append_only_text_with_successive_seeds()
    {
        var session = Trained.Value.CreateSession(seed: 40);
        var text = new System.Text.StringBuilder();
        GenerationResult? last = null;
        await foreach (var update in session.GenerateStreamingAsync("the "))
        {
            text.Append(update.NewText);
            last = update.Result ?? last;
        }

        Assert.Equal(last!.Completion, text.ToString());
        Assert.Equal(Trained.Value.Transform([Row(0)]).Single().Completion, last.Completion);
        Assert.Equal(Trained.Value.Transform([Row(1)]).Single().Completion, session.Generate("the ").Completion);
        Assert.Equal(2, session.Turns);
    }

    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
