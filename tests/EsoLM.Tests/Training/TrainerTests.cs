using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Text;
using EsoLM.Data;
using EsoLM.Training;

namespace EsoLM.Tests.Training;

public sealed class TrainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("esolm-train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static (TokenDataset Data, CharTokenizer Tokenizer) GrammarData(int length = 24, int documents = 60)
    {
        var tokenizer = CharTokenizer.FromCorpus(new string([.. BuiltInLanguage.Alphabet]));
        var docs = BuiltInLanguage.CreateGenerator(3).Documents(documents, 3);
        return (TokenDataset.FromDocuments(docs, tokenizer, length, 0.1), tokenizer);
    }

    internal static ModelConfig Config(Microsoft.ML.Tokenizers.Tokenizer tokenizer, int length = 24) => new()
    {
        VocabSize = TokenizerVocabulary.Of(tokenizer).ModelVocabularySize,
        MaskTokenId = TokenizerVocabulary.Of(tokenizer).ModelMaskTokenId,
        HiddenSize = 32,
        Heads = 4,
        Layers = 2,
        CondDim = 8,
        MlpRatio = 2,
        ContextLength = length,
        FrequencyEmbeddingSize = 16,
    };

    private static TrainerOptions Options(int steps) => new() { Steps = steps, BatchSize = 6, LearningRate = 3e-3, WarmupSteps = 2, Dropout = 0.1f, Seed = 5 };

    [Theory]
    [InlineData(0.5, EsoLmVariant.B)]
    [InlineData(0.25, EsoLmVariant.A)]
    public void Resuming_half_way_gives_bit_identical_weights(double alpha0, EsoLmVariant variant)
    {
        var (data, tok) = GrammarData();
        var objective = new ObjectiveOptions { Alpha0 = alpha0, Variant = variant };
        var compute = new EsoLM.Backends.Cpu.CpuBackend(new ComputeContext(2));
        var straight = new EsoLmTrainer(Config(tok), objective, Options(6), data, compute, tok.Describe());
        straight.Train();

        var path = Path.Combine(_dir, "ckpt.safetensors");
        var first = new EsoLmTrainer(Config(tok), objective, Options(6) with { Steps = 3 }, data, compute, tok.Describe());
        first.Train(checkpointPath: path);
        var resumed = EsoLmTrainer.Resume(path, objective, Options(6), data, compute);
        Assert.Equal(3, resumed.Step);
        resumed.Train();

        var straightWeights = straight.Model.CopyParametersToHost();
        var resumedWeights = resumed.Model.CopyParametersToHost();
        for (int i = 0; i < straightWeights.Tensors.Count; i++)
        {
            Assert.Equal(straightWeights.Tensors[i].Data, resumedWeights.Tensors[i].Data);
            Assert.Equal(straight.EmaParameters.Tensors[i].Data, resumed.EmaParameters.Tensors[i].Data);
        }
    }

    [Fact]
    public void Loss_goes_down_on_the_built_in_language()
    {
        var (data, tok) = GrammarData();
        var trainer = new EsoLmTrainer(Config(tok), new ObjectiveOptions { Alpha0 = 0.5 }, Options(150) with { Dropout = 0, EmaDecay = 0.9 }, data);
        var losses = new List<double>();
        trainer.Train(new SyncProgress(p => losses.Add(p.Loss)));
        Assert.Equal(150, losses.Count);
        double early = losses.Take(5).Average(), late = losses.Skip(140).Average();
        Assert.True(late < 0.88 * early, $"loss went from {early:F3} to {late:F3}");
        var nelbo = trainer.ValidationNelbo();
        Assert.True(nelbo.Perplexity < tok.VocabularySize, $"validation NELBO perplexity {nelbo.Perplexity:F2} should beat uniform ({tok.VocabularySize})");
    }

    [Fact]
    public void Non_finite_loss_stops_with_the_step_and_keeps_the_last_checkpoint()
    {
        var (data, tok) = GrammarData();
        var path = Path.Combine(_dir, "good.safetensors");
        var trainer = new EsoLmTrainer(Config(tok), new ObjectiveOptions { Alpha0 = 1 }, Options(2), data);
        trainer.Train(checkpointPath: path);
        var before = File.ReadAllBytes(path);
        var resumed = EsoLmTrainer.Resume(path, new ObjectiveOptions { Alpha0 = 1 }, Options(4), data);
        var poisoned = resumed.Model.CopyParametersToHost();
        poisoned["output_layer.linear.bias"].Data[0] = float.NaN;
        resumed.Model.LoadParameters(poisoned);
        var ex = Assert.Throws<TrainingDivergedException>(() => resumed.Train(checkpointPath: path));
        Assert.Equal(3, ex.Step);
        Assert.Contains("step 3", ex.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void Bad_settings_are_clear_errors()
    {
        var (data, tok) = GrammarData();
        Assert.Throws<ArgumentOutOfRangeException>(() => new EsoLmTrainer(Config(tok), new ObjectiveOptions { Alpha0 = 1.5 }, Options(2), data));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EsoLmTrainer(Config(tok), new ObjectiveOptions { Alpha0 = -0.1 }, Options(2), data));
        var ctx = Assert.Throws<ArgumentOutOfRangeException>(() => new EsoLmTrainer(Config(tok, length: 16), new ObjectiveOptions(), Options(2), data));
        Assert.Contains("context is 16", ctx.Message, StringComparison.Ordinal);
        var empty = Assert.Throws<ArgumentException>(() => TokenDataset.FromDocuments([], tok, 24));
        Assert.Contains("fewer than one row", empty.Message, StringComparison.Ordinal);

        var path = Path.Combine(_dir, "c.safetensors");
        new EsoLmTrainer(Config(tok), new ObjectiveOptions { Alpha0 = 0.5 }, Options(1), data).Train(checkpointPath: path);
        var other = Assert.Throws<InvalidOperationException>(() => EsoLmTrainer.EnsureSameConfig(Config(tok) with { HiddenSize = 64, Heads = 4 }, path));
        Assert.Contains("config", other.Message, StringComparison.Ordinal);
        var objective = Assert.Throws<InvalidOperationException>(() => EsoLmTrainer.Resume(path, new ObjectiveOptions { Alpha0 = 0.25 }, Options(2), data));
        Assert.Contains("objective settings", objective.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Alpha0_zero_is_pure_AR_and_one_is_pure_diffusion()
    {
        var x = Enumerable.Range(0, 4 * 8).Select(i => i % 7).ToArray();
        var ar = new EsoLmObjective(new ObjectiveOptions { Alpha0 = 0 }, 9);
        var rows = ar.Sample(x, 4, 8, 1, 0);
        Assert.All(rows, r => Assert.True(r.Sequential));
        Assert.All(rows, r => Assert.All(r.Noisy, t => Assert.Equal(9, t)));
        Assert.All(rows, r => Assert.Equal(Enumerable.Range(0, 8), r.SortIndex));
        var mdm = new EsoLmObjective(new ObjectiveOptions { Alpha0 = 1 }, 9);
        Assert.All(mdm.Sample(x, 4, 8, 1, 0), r => Assert.False(r.Sequential));
    }

    [Fact]
    public void Corruption_is_stratified_and_masks_at_the_scheduled_rate()
    {
        int batch = 64, length = 64;
        var x = new int[batch * length];
        var objective = new EsoLmObjective(new ObjectiveOptions { Alpha0 = 1 }, 5);
        var rows = objective.Sample(x, batch, length, 7, 3);
        // One t per stratum [i/n, (i+1)/n) (before the eps affine map).
        for (int i = 0; i < batch; i++)
        {
            double e = (rows[i].Time - 1e-3) / (1 - 1e-3);
            Assert.InRange(e, (double)i / batch - 1e-9, (double)(i + 1) / batch + 1e-9);
        }

        // Masked fraction ≈ 1 − α_t on average; clean slots come first.
        double expected = rows.Average(r => 1 - (1 - ((1 - 1e-3) * r.Time)));
        double actual = rows.Average(r => r.Noisy.Count(t => t == 5) / (double)length);
        Assert.InRange(actual, expected - 0.03, expected + 0.03);
        foreach (var r in rows)
        {
            int clean = r.Noisy.Count(t => t != 5);
            Assert.All(r.SortIndex.Take(clean), p => Assert.NotEqual(5, r.Noisy[p]));
        }

        var seq = new EsoLmObjective(new ObjectiveOptions { Alpha0 = 0.5, BatchSplit = 0 }, 5).Sample(x.AsSpan(0, 4 * length), 4, length, 7, 3);
        foreach (var r in seq)
        {
            var masks = r.SortIndex.Where(p => r.Noisy[p] == 5).ToArray();
            Assert.Equal(masks.Order(), masks);
        }
    }

    [Fact]
    public void Mdlm_training_lets_every_row_see_the_whole_sequence()
    {
        var x = Enumerable.Range(0, 2 * 8).Select(i => i % 7).ToArray();
        var objective = new EsoLmObjective(new ObjectiveOptions { Alpha0 = 1, Variant = EsoLmVariant.Mdlm }, 9);
        var batch = new TrainingBatch();
        objective.Build(x, 2, 8, objective.Sample(x, 2, 8, 3, 1), batch);
        Assert.Equal(16, batch.RowCount);
        foreach (var range in batch.Visible.ToArray())
        {
            Assert.Equal(KeyRange.Of(0, 8), range);
        }

        var causal = new TrainingBatch();
        var b = new EsoLmObjective(new ObjectiveOptions { Alpha0 = 1 }, 9);
        b.Build(x, 2, 8, b.Sample(x, 2, 8, 3, 1), causal);
        Assert.Contains(causal.Visible.ToArray(), r => r != KeyRange.Of(0, 8));
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new EsoLmObjective(new ObjectiveOptions { Alpha0 = 0.5, Variant = EsoLmVariant.Mdlm }, 9));
        Assert.Contains("α0 = 1", ex.Message, StringComparison.Ordinal);
    }

    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
