using EsoLM.Backends;
using EsoLM.Backends.Cpu;
using EsoLM.Evaluation;
using EsoLM.Hosting;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Tensors;
using EsoLM.Tests.Evaluation;
using EsoLM.Tests.Modeling;
using EsoLM.Tests.Support;
using EsoLM.Training;
using Microsoft.Extensions.DependencyInjection;

namespace EsoLM.Tests.Backends;

/// <summary>
/// The backend seam: a second backend written against the public contract only (<see cref="RecordingBackend"/>) runs
/// the Eso-LM (B) and MDLM samplers, a training step and an evaluation with no change to sampler, training or
/// evaluation code, and gives the CPU backend's logits and tokens.
/// </summary>
public sealed class SecondBackendTests
{
    private static readonly CpuBackend Cpu = new(new ComputeContext(2));

    private static ModelParameters TinyParameters(ulong seed = 4) =>
        ModelParameters.CreateRandom(CachedForwardTests.TinyConfig(23, 5, 16), seed, 0.3f);

    private static SamplingRequest[] Requests(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new SamplingRequest { SequenceId = i, Seed = 11, Prompt = i == 1 ? [1, 2] : null })];

    [Fact]
    public void Golden_logits_match_the_cpu_backend_in_every_mode()
    {
        var parameters = GoldenModel.Create().CopyParametersToHost();
        var recording = new RecordingBackend(Cpu);
        var cpu = Cpu.Load(parameters);
        var other = recording.Load(parameters);
        var cfg = cpu.Config;
        int length = Math.Min(12, cfg.ContextLength), batch = 2, v = cfg.VocabSize;
        var rng = new Random(5);
        var tokens = Enumerable.Range(0, batch * length).Select(_ => rng.Next(cfg.VocabSize)).ToArray();
        var clean = Enumerable.Range(0, batch * length).Select(_ => rng.Next(cfg.MaskTokenId)).ToArray();
        var positions = Enumerable.Range(0, batch).SelectMany(_ => Enumerable.Range(0, length).OrderBy(_ => rng.Next())).ToArray();
        int[] numClean = [3, 7];
        foreach (var variant in new[] { EsoLmVariant.A, EsoLmVariant.B })
        {
            var expected = new float[batch * length * v];
            var actual = new float[batch * length * v];
            new ModelSession(cpu, batch, 2 * length).Diffusion(variant, batch, length, tokens, positions, numClean, expected);
            new ModelSession(other, batch, 2 * length).Diffusion(variant, batch, length, tokens, positions, numClean, actual);
            AssertClose(expected, actual, 1e-5);
            new ModelSession(cpu, batch, 2 * length).Sequential(variant, batch, length, tokens, clean, positions, numClean, expected);
            new ModelSession(other, batch, 2 * length).Sequential(variant, batch, length, tokens, clean, positions, numClean, actual);
            AssertClose(expected, actual, 1e-5);
        }

        Assert.True(recording.Count("Forward") >= 4);
    }

    [Fact]
    public void Log_probabilities_are_the_zero_masked_log_softmax_of_the_logits()
    {
        var network = new RecordingBackend(Cpu).Load(TinyParameters());
        var cfg = network.Config;
        var batch = new ForwardBatch();
        var cache = network.CreateCache(8);
        var ranges = new KeyRange[8];
        MaskRules.Diffusion(EsoLmVariant.B, 8, 3, ranges);
        batch.Add(cache, 0, [1, 2, 3, 5, 5, 5, 5, 5], [0, 1, 2, 3, 4, 5, 6, 7], ranges, 0, 8);
        var logits = new float[8 * cfg.VocabSize];
        var logProbs = new float[8 * cfg.VocabSize];
        network.Forward(batch, network.CreateWorkspace(), ForwardOutput.Logits, logits);
        network.Forward(batch, network.CreateWorkspace(), ForwardOutput.LogProbabilities, logProbs);
        for (int r = 0; r < 8; r++)
        {
            // Independent reference: log-softmax in double over the non-mask ids.
            var row = logits.AsSpan(r * cfg.VocabSize, cfg.VocabSize);
            double max = double.NegativeInfinity, sum = 0;
            for (int i = 0; i < row.Length; i++)
            {
                max = i == cfg.MaskTokenId ? max : Math.Max(max, row[i]);
            }

            for (int i = 0; i < row.Length; i++)
            {
                sum += i == cfg.MaskTokenId ? 0 : Math.Exp(row[i] - max);
            }

            for (int i = 0; i < row.Length; i++)
            {
                float got = logProbs[(r * cfg.VocabSize) + i];
                if (i == cfg.MaskTokenId)
                {
                    Assert.Equal(float.NegativeInfinity, got);
                }
                else
                {
                    Assert.Equal(row[i] - max - Math.Log(sum), got, 1e-5);
                }
            }
        }
    }

    [Theory]
    [InlineData("esolm-b")]
    [InlineData("mdlm")]
    public void Samplers_run_unchanged_and_pick_the_same_tokens(string method)
    {
        var parameters = TinyParameters();
        var recording = new RecordingBackend(Cpu);
        ISampler Create(INetwork network) => method == "mdlm"
            ? new MdlmSampler(network, new MdlmSamplerOptions { Steps = 6 })
            : new EsoLmSampler(network, new EsoLmSamplerOptions { Variant = EsoLmVariant.B, AlphaEval = 0.5, Steps = 5 });
        var expected = Create(Cpu.Load(parameters)).Generate(Requests(3));
        var actual = Create(recording.Load(parameters)).Generate(Requests(3));
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(expected.Sequences[i].Tokens, actual.Sequences[i].Tokens);
        }

        Assert.Equal(expected.ForwardPasses, actual.ForwardPasses);
        Assert.Equal(actual.ForwardPasses, recording.Count("Forward"));
        Assert.Equal(3, recording.Count("CreateCache"));
    }

    [Fact]
    public void A_training_step_and_an_evaluation_give_the_cpu_backends_numbers()
    {
        var data = TinyModels.Data();
        var options = new TrainerOptions { Steps = 2, BatchSize = 8, LearningRate = 3e-3, WarmupSteps = 1, Seed = 5, EmaDecay = 0.9, GradientClip = 0.5 };
        var objective = new ObjectiveOptions { Alpha0 = 0.5 };
        var recording = new RecordingBackend(Cpu);
        var expected = new EsoLmTrainer(TinyModels.Config(), objective, options, data, Cpu);
        var actual = new EsoLmTrainer(TinyModels.Config(), objective, options, data, recording);
        Assert.Equal(expected.TrainStep(), actual.TrainStep());
        Assert.Equal(1, recording.Count("RunBackward"));
        Assert.Equal(1, recording.Count("Update"));
        Assert.Equal(1, recording.Count("UpdateEma"));
        var e = expected.Model.CopyParametersToHost();
        var a = actual.Model.CopyParametersToHost();
        for (int t = 0; t < e.Tensors.Count; t++)
        {
            AssertClose(e.Tensors[t].Data, a.Tensors[t].Data, 1e-5);
        }

        var rows = Enumerable.Range(0, data.ValidationRows).Select(i => (ReadOnlyMemory<int>)data.ValidationRow(i).ToArray()).ToArray();
        var ema = expected.EmaParameters;
        var nelboCpu = NelboEvaluator.Evaluate(Cpu.Load(ema), objective, rows.Length, data.Length, i => rows[i], 4, seed: 3);
        var nelboOther = NelboEvaluator.Evaluate(recording.Load(ema), objective, rows.Length, data.Length, i => rows[i], 4, seed: 3);
        Assert.Equal(nelboCpu.Perplexity, nelboOther.Perplexity, 1e-9);
        Assert.True(recording.Count("Run") > 0);
    }

    [Fact]
    public void AddEsoLm_loads_the_model_file_onto_the_backend_named_in_the_options()
    {
        var path = Path.Combine(Path.GetTempPath(), $"esolm-backend-{Guid.NewGuid():N}.safetensors");
        DependencyInjection.TinyModels.Model().Save(path);
        try
        {
            var recording = new RecordingBackend(CpuBackend.Default);
            var services = new ServiceCollection();
            services.AddEsoLm(o =>
            {
                o.ModelPath = path;
                o.Backend = "recording";
                o.MaxNewTokens = 4;
            }).AddBackend("recording", recording);
            using var provider = services.BuildServiceProvider();
            var generator = provider.GetRequiredService<EsoLmGenerator>();
            var a = generator.Generate(new GenerationRequest("a") { Seed = 9 });
            var b = new EsoLmGenerator(DependencyInjection.TinyModels.Model(), new EsoLmOptions { MaxNewTokens = 4 }).Generate(new GenerationRequest("a") { Seed = 9 });
            Assert.Equal(b.TokenIds, a.TokenIds);
            Assert.Same(recording, generator.Model.Transformer.Backend);
            Assert.True(recording.Count("Forward") > 0);

            var unknown = new ServiceCollection();
            unknown.AddEsoLm(o =>
            {
                o.ModelPath = path;
                o.Backend = "tpu";
            });
            using var bad = unknown.BuildServiceProvider();
            var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => bad.GetRequiredService<EsoLmGenerator>());
            Assert.Contains("tpu", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_backend_is_chosen_in_code_by_loading_parameters_on_it()
    {
        var config = DependencyInjection.TinyModels.Config();
        var backend = new CpuBackend(new ComputeContext(maxDegreeOfParallelism: 2));
        var network = backend.Load(ModelParameters.CreateInitialized(config, seed: 1));
        var sampler = new EsoLmSampler(network, new EsoLmSamplerOptions { AlphaEval = 0.5 });
        var result = sampler.Generate([new SamplingRequest { Seed = 1 }]);
        Assert.Equal(config.ContextLength, result.Sequences[0].Tokens.Length);
        Assert.Equal("cpu", network.Backend.Description.Backend);
        Assert.True(network.ParameterBytes >= ModelParameters.CreateZero(config).Count * sizeof(float));
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        }

        Assert.True(worst <= tolerance, $"max |diff| {worst:E2} > {tolerance:E1}");
    }
}
