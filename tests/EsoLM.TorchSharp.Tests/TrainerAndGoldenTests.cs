using EsoLM.Modeling;
using EsoLM.Training;
using EsoLM.Diagnostics;
using static EsoLM.TorchSharp.Tests.TorchTestSupport;

namespace EsoLM.TorchSharp.Tests;

/// <summary>The trainer and the parity check on the torch backend: golden vectors, loss curves, checkpoints across backends.</summary>
public sealed class TrainerAndGoldenTests
{
    [Fact]
    public void Golden_reference_vectors_pass_on_torch()
    {
        var report = ParityCheck.Run(GoldenFolder(), 1e-4, Torch);
        Assert.True(report.Passed, string.Join("\n", report.Cases.Where(c => !c.Passed).Select(c => c.Detail)));
        Assert.Contains(report.Cases, c => c.Name.StartsWith("kv_sampling_B", StringComparison.Ordinal));
        Assert.Contains(report.Cases, c => c.Name.StartsWith("sequential_A", StringComparison.Ordinal));
    }

    [Fact]
    public void The_trainer_gives_the_same_loss_curve_and_weights_on_both_backends()
    {
        var (config, data) = Setup();
        var objective = new ObjectiveOptions { Alpha0 = 0.5, BatchSplit = 0.5 };
        var options = new TrainerOptions { Steps = 20, BatchSize = 4, LearningRate = 3e-3, WarmupSteps = 2, EmaDecay = 0.99, Seed = 5 };
        var managedCurve = new List<double>();
        var torchCurve = new List<double>();
        var managed = new EsoLmTrainer(config, objective, options, data, Managed);
        managed.Train(new SyncProgress(p => managedCurve.Add(p.Loss)));
        var torch = new EsoLmTrainer(config, objective, options, data, Torch);
        torch.Train(new SyncProgress(p => torchCurve.Add(p.Loss)));
        Assert.Equal(20, torchCurve.Count);
        for (int s = 0; s < 20; s++)
        {
            Assert.True(Math.Abs(managedCurve[s] - torchCurve[s]) <= 1e-3, $"step {s + 1}: managed {managedCurve[s]}, torch {torchCurve[s]}");
        }

        AssertClose(managed.EmaParameters, torch.EmaParameters, 1e-4);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_checkpoint_saved_by_one_backend_resumes_on_the_other(bool fromManaged)
    {
        var (config, data) = Setup();
        var objective = new ObjectiveOptions { Alpha0 = 0.5, BatchSplit = 0.5 };
        var options = new TrainerOptions { Steps = 12, BatchSize = 4, LearningRate = 3e-3, WarmupSteps = 2, EmaDecay = 0.99, Seed = 6 };
        var first = fromManaged ? (Backends.IComputeBackend)Managed : Torch;
        var second = fromManaged ? (Backends.IComputeBackend)Torch : Managed;
        var dir = Directory.CreateTempSubdirectory("esolm-torch-ckpt");
        try
        {
            string path = Path.Combine(dir.FullName, "run.ckpt");
            var half = new EsoLmTrainer(config, objective, options with { Steps = 6 }, data, first);
            half.Train();
            half.SaveCheckpoint(path);
            var resumed = EsoLmTrainer.Resume(path, objective, options, data, second);
            Assert.Equal(6, resumed.Step);
            resumed.Train();
            var straight = new EsoLmTrainer(config, objective, options, data, first);
            straight.Train();
            AssertClose(straight.EmaParameters, resumed.EmaParameters, 1e-4);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static (ModelConfig Config, TokenDataset Data) Setup()
    {
        var config = new ModelConfig
        {
            VocabSize = 19, MaskTokenId = 18, HiddenSize = 32, Heads = 4, Layers = 2, CondDim = 16, MlpRatio = 2, ContextLength = 12,
            FrequencyEmbeddingSize = 32,
        };
        var rng = new Random(2);
        var tokens = Enumerable.Range(0, 12 * 40).Select(i => (i % 7) + rng.Next(3) + (i % 2 == 0 ? 0 : 8)).ToArray();
        return (config, TokenDataset.FromTokens(tokens, 12, 0.1));
    }

    private static void AssertClose(ModelParameters expected, ModelParameters actual, double tolerance)
    {
        for (int i = 0; i < expected.Tensors.Count; i++)
        {
            double diff = MaxAbsDiff(actual.Tensors[i].Data, expected.Tensors[i].Data);
            Assert.True(diff <= tolerance, $"{expected.Tensors[i].Name}: max |diff| {diff:G3}");
        }
    }

    internal static string GoldenFolder()
    {
        if (Environment.GetEnvironmentVariable("ESOLM_SHARED") is { Length: > 0 } shared)
        {
            return Path.Combine(shared, "golden", "reference");
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "golden", "reference");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("shared/golden not found above the test folder; set ESOLM_SHARED.");
    }

    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
