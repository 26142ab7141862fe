using EsoLM.Hosting;
using EsoLM.IO;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Text;
using EsoLM.Training;
using EsoLM.ML;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML;

namespace EsoLM.TorchSharp.Tests;

/// <summary>The code of docs/gpu.md, compiled and run here (on CPU libtorch; the same lines select CUDA where it exists).</summary>
public sealed class DocsSnippets : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("esolm-torch-docs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Gpu_page_sampling_and_training_snippets_run()
    {
        var tokenizer = new ByteTokenizer();
        var config = new ModelConfig
        {
            VocabSize = tokenizer.VocabularySize + 1, MaskTokenId = tokenizer.VocabularySize, HiddenSize = 32, Heads = 2, Layers = 1, CondDim = 16,
            ContextLength = 16,
        };
        var modelPath = Path.Combine(_dir, "model.safetensors");
        ModelFile.Save(modelPath, ModelParameters.CreateRandom(config, 3, 0.5f), tokenizer.Describe());

        string device = TorchRuntime.IsAvailable("cuda") ? "cuda" : "cpu";
        var backend = new TorchBackend(new TorchBackendOptions { Device = device, Precision = TorchPrecision.Fp32 });
        var model = EsoLmModel.Load(modelPath, backend);
        var sampler = new EsoLmSampler(model.Transformer, new EsoLmSamplerOptions { Steps = 8 });
        var result = sampler.Generate([new SamplingRequest { Seed = 1 }]);
        Assert.Equal(16, result.Sequences[0].Tokens.Length);

        var data = TokenDataset.FromDocuments(["abcabcabcabc abc", "cab cab cab cab cab", "bca bca bca bca"], tokenizer, 16, 0.0);
        var objective = new ObjectiveOptions { Alpha0 = 0.5 };
        var options = new TrainerOptions { Steps = 2, BatchSize = 2 };
        var trainer = new EsoLmTrainer(config, objective, options, data, backend);
        trainer.Train();
        Assert.Equal(2, trainer.Step);

        var services = new ServiceCollection();
        services.AddEsoLm(o => o.ModelPath = modelPath).UseTorchSharp(device);
        using var provider = services.BuildServiceProvider();
        var generator = provider.GetRequiredService<EsoLmGenerator>();
        Assert.Equal("torch", generator.Model.Transformer.Backend.Name);
    }

    [Fact]
    public void Gpu_page_mlnet_snippet_runs()
    {
        var ml = new MLContext(seed: 1);
        var documents = ml.Data.LoadFromEnumerable(new[] { "abcabcabc abc", "cab cab cab cab", "bca bca bca" }.Select(t => new MlRow { Text = t }).ToArray());
        // docs/guide/gpu.md, "ML.NET pipelines" (copied there verbatim):
        TorchBackendProvider.Register(); // once at start-up: "torch", "torch:cpu", "torch:cuda", "torch:cuda:N" now resolve
        string backend = TorchRuntime.IsAvailable("cuda") ? "torch:cuda" : "torch:cpu";
        var estimator = ml.Transforms.Text.TrainEsoLm(new EsoLmTrainingOptions
        {
            Backend = backend, // train on the device …
            Steps = 2,
            ContextLength = 16,
            Generation = new EsoLmGenerationOptions { Backend = backend, MaxTokens = 8 }, // … and generate there
        });
        var model = estimator.Fit(documents);
        var generated = model.Transform(documents);
        Assert.Equal("torch", model.Model.Transformer.Backend.Name);
        Assert.Equal(3, ml.Data.CreateEnumerable<MlGenerated>(generated, reuseRowObject: false).Count());
    }
}
