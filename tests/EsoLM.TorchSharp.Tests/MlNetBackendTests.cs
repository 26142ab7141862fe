using EsoLM.Backends;
using EsoLM.ML;
using EsoLM.Data;
using Microsoft.ML;

namespace EsoLM.TorchSharp.Tests;

/// <summary>A row of the ML.NET pipeline tests.</summary>
public sealed class MlRow
{
    public string Text { get; set; } = string.Empty;

    public string Prompt { get; set; } = string.Empty;

    public uint Seed { get; set; }
}

/// <summary>The generated-text column alone.</summary>
public sealed class MlGenerated
{
    public string GeneratedText { get; set; } = string.Empty;
}

/// <summary>What the pipeline tests read back.</summary>
public sealed class MlResult
{
    public string GeneratedText { get; set; } = string.Empty;

    public float Nelbo { get; set; }

    public float Perplexity { get; set; }
}

/// <summary>The ML.NET stages' <c>Backend = "torch:cpu"</c> (through the core's backend registry) against <c>cpu</c>.</summary>
public sealed class MlNetBackendTests
{
    static MlNetBackendTests() => TorchBackendProvider.Register();

    private static MlRow[] Documents(ulong seed, int count) =>
        [.. BuiltInLanguage.CreateGenerator(seed).Documents(count, 1).Select((t, i) => new MlRow { Text = t, Prompt = i % 2 == 0 ? string.Empty : "the ", Seed = (uint)(100 + i) })];

    private static EsoLmTrainingOptions Training(string backend) => new()
    {
        ContextLength = 24,
        HiddenSize = 32,
        Heads = 4,
        Layers = 2,
        CondDim = 8,
        MlpRatio = 2,
        Steps = 6,
        BatchSize = 4,
        WarmupSteps = 2,
        LearningRate = 3e-3,
        Alpha0 = 0.5,
        Backend = backend,
        Threads = 2,
        Generation = new EsoLmGenerationOptions { PromptColumnName = "Prompt", SeedColumnName = "Seed", Steps = 4, MaxTokens = 10, Backend = backend, Threads = 2 },
    };

    /// <summary>Fits the training estimator on a backend, then generates and scores rows with the trained model on the same backend.</summary>
    private static (MlResult[] Rows, EsoLmTextGenerationTransformer Trained) FitAndTransform(string backend, MlRow[] train, MlRow[] check)
    {
        var ml = new MLContext(seed: 1);
        var trained = ml.Transforms.Text.TrainEsoLm(Training(backend)).Fit(ml.Data.LoadFromEnumerable(train));
        var scorer = ml.Transforms.Text.ScoreWithEsoLm(trained.Model, new EsoLmScoringOptions { Samples = 4, Backend = backend, Threads = 2 });
        var pipeline = scorer.Append(ml.Transforms.Text.GenerateWithEsoLm(trained.Model, trained.Options));
        var data = ml.Data.LoadFromEnumerable(check);
        var output = pipeline.Fit(data).Transform(data);
        return ([.. ml.Data.CreateEnumerable<MlResult>(output, reuseRowObject: false)], trained);
    }

    [Fact]
    public void Pipeline_fits_and_transforms_on_torch_cpu_like_the_managed_engine()
    {
        var train = Documents(5, 40);
        var check = Documents(9, 6);
        var (cpu, cpuModel) = FitAndTransform(EsoLmBackends.Cpu, train, check);
        var (torch, torchModel) = FitAndTransform("torch:cpu", train, check);

        // The stages really ran on the chosen backends.
        Assert.Equal("cpu", cpuModel.Model.Transformer.Backend.Name);
        Assert.Equal("torch", torchModel.Model.Transformer.Backend.Name);

        Assert.Equal(cpu.Length, torch.Length);
        for (int i = 0; i < cpu.Length; i++)
        {
            Assert.Equal(cpu[i].GeneratedText, torch[i].GeneratedText);
            Assert.True(float.IsFinite(cpu[i].Nelbo), $"row {i}: NELBO {cpu[i].Nelbo}");
            Assert.True(Math.Abs(cpu[i].Nelbo - torch[i].Nelbo) <= 1e-4 * Math.Max(1, Math.Abs(cpu[i].Nelbo)),
                $"row {i}: NELBO cpu {cpu[i].Nelbo:R} vs torch {torch[i].Nelbo:R}");
        }

        Assert.Contains(cpu, r => r.GeneratedText.Length > 0);
    }

    [Fact]
    public void A_model_file_loads_on_torch_through_the_backend_name_and_gives_the_same_rows()
    {
        var ml = new MLContext(seed: 1);
        var train = Documents(6, 40);
        var trained = ml.Transforms.Text.TrainEsoLm(Training(EsoLmBackends.Cpu)).Fit(ml.Data.LoadFromEnumerable(train));
        var path = Path.Combine(Path.GetTempPath(), $"esolm-ml-torch-{Guid.NewGuid():N}.safetensors");
        try
        {
            trained.Model.Save(path);
            var data = ml.Data.LoadFromEnumerable(Documents(11, 5));
            MlResult[] Run(string backend)
            {
                var gen = ml.Transforms.Text.GenerateWithEsoLm(path, WithBackend(trained.Options, backend));
                var score = ml.Transforms.Text.ScoreWithEsoLm(path, new EsoLmScoringOptions { Samples = 3, Backend = backend, Threads = 2 });
                var output = score.Append(gen).Fit(data).Transform(data);
                return [.. ml.Data.CreateEnumerable<MlResult>(output, reuseRowObject: false)];
            }

            var cpu = Run("cpu");
            var torch = Run("torch:cpu");
            for (int i = 0; i < cpu.Length; i++)
            {
                Assert.Equal(cpu[i].GeneratedText, torch[i].GeneratedText);
                Assert.True(Math.Abs(cpu[i].Nelbo - torch[i].Nelbo) <= 1e-4 * Math.Max(1, Math.Abs(cpu[i].Nelbo)),
                    $"row {i}: NELBO cpu {cpu[i].Nelbo:R} vs torch {torch[i].Nelbo:R}");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Backend_names_are_checked_early_with_the_accepted_forms()
    {
        var ml = new MLContext(seed: 1);
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Transforms.Text.TrainEsoLm(Training("torch:tpu")));
        Assert.Contains("torch:tpu", bad.Message, StringComparison.Ordinal);
        Assert.Contains(TorchBackendProvider.UsageText, bad.Message, StringComparison.Ordinal);
        Assert.Contains(TorchBackendProvider.UsageText, EsoLmBackends.Available);
        Assert.Equal(new BackendSpec("torch", "cuda:1"), BackendSpec.Parse(" Torch:CUDA:1 "));
        Assert.Equal("torch:cuda:1", BackendSpec.Parse("torch:cuda:1").ToString());
        Assert.Throws<ArgumentException>(() => BackendSpec.Parse("torch:"));
        // Validation does not load libtorch for CUDA (this machine has no CUDA libtorch): a valid name passes.
        ComputeBackendRegistry.Validate("torch:cuda:3");
    }

    private static EsoLmGenerationOptions WithBackend(EsoLmGenerationOptions options, string backend)
    {
        var copy = options.Clone();
        copy.Backend = backend;
        copy.Threads = 2;
        return copy;
    }
}
