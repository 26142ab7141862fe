using EsoLM.Hosting;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Tensors;
using EsoLM.Tests.DependencyInjection;
using EsoLM.Tests.Modeling;
using EsoLM.Data;
using EsoLM.Training;
using Microsoft.Extensions.DependencyInjection;

namespace EsoLM.Tests.Masks;

/// <summary>
/// A user's mask policy that is not built in — sliding-window causal attention over the generation order — drives the
/// objective and is recorded in, and restored from, the model file by name.
/// </summary>
public sealed class CustomPolicyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("esolm-policy-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Causal in generation order, but a query sees only the <see cref="Window"/> most recent slots (itself included).</summary>
    internal sealed class SlidingWindowPolicy(int window) : IAttentionMaskPolicy
    {
        public int Window { get; } = window;

        public string Name => "sliding-window";

        public EsoLmVariant? Variant => null;

        public void Diffusion(int length, int numClean, Span<KeyRange> ranges)
        {
            for (int q = 0; q < length; q++)
            {
                ranges[q] = KeyRange.Of(Math.Max(0, q - Window + 1), q + 1);
            }
        }

        public void Sequential(int length, int numClean, Span<KeyRange> ranges)
        {
            for (int q = 0; q < length; q++)
            {
                ranges[q] = new KeyRange(q, q + 1, length + Math.Max(0, q - Window + 1), length + q); // itself + the window of x before it
            }

            for (int i = 0; i < length; i++)
            {
                ranges[length + i] = KeyRange.Of(length + Math.Max(0, i - Window + 1), length + i + 1);
            }
        }
    }

    /// <summary>Variant A's masks under another name: not built in, not causal (the clean set is bidirectional).</summary>
    internal sealed class CleanBidirectionalPolicy : IAttentionMaskPolicy
    {
        public string Name => "clean-bidirectional";

        public EsoLmVariant? Variant => null;

        public void Diffusion(int length, int numClean, Span<KeyRange> ranges)
        {
            for (int q = 0; q < length; q++)
            {
                ranges[q] = q < numClean ? KeyRange.Of(0, numClean) : KeyRange.Of(0, q + 1);
            }
        }

        public void Sequential(int length, int numClean, Span<KeyRange> ranges) => MaskRules.Sequential(EsoLmVariant.A, length, numClean, ranges);
    }

    private static SamplingRequest[] Requests() =>
    [
        new() { Seed = 3, SequenceId = 0 },
        new() { Seed = 3, SequenceId = 1, Prompt = [1, 2, 3] },
        new() { Seed = 3, SequenceId = 2, KnownTokens = [new KnownToken(9, 4)] },
    ];

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(1.0)]
    public void User_policies_are_cached_exactly_where_their_ranges_allow(double alpha)
    {
        var model = new DiffusionTransformer(ModelParameters.CreateRandom(TinyModels.Config(16), 8, 0.3f), new ComputeContext(1));
        foreach (IAttentionMaskPolicy policy in new IAttentionMaskPolicy[] { new SlidingWindowPolicy(3), new CleanBidirectionalPolicy() })
        {
            var options = new EsoLmSamplerOptions { MaskPolicy = policy, AlphaEval = alpha, Steps = 4, Length = 16 };
            var check = CacheSelfCheck.Run(model, options, batch: 3, seed: 5);
            Assert.True(check.Passed, $"{policy.Name}: max |cached − full| = {check.MaxAbsDiff}");

            // The cached sampler gives the tokens of the plain path that recomputes the whole sequence every step.
            var cached = new EsoLmSampler(model, options).Generate(Requests());
            var full = new EsoLmSampler(model, options with { UseKvCache = false }).Generate(Requests());
            Assert.Equal(full.Sequences.Select(q => q.Tokens), cached.Sequences.Select(q => q.Tokens));
            Assert.True(cached.TokensProcessed < full.TokensProcessed);
        }

        // Variant A's masks under another name sample exactly what the built-in variant A sampler samples.
        var renamed = new EsoLmSampler(model, new EsoLmSamplerOptions { MaskPolicy = new CleanBidirectionalPolicy(), AlphaEval = alpha, Steps = 4, Length = 16 });
        var builtIn = new EsoLmSampler(model, new EsoLmSamplerOptions { Variant = EsoLmVariant.A, AlphaEval = alpha, Steps = 4, Length = 16 });
        Assert.Equal(builtIn.Generate(Requests()).Sequences.Select(q => q.Tokens), renamed.Generate(Requests()).Sequences.Select(q => q.Tokens));
    }

    [Fact]
    public void The_objective_takes_its_key_ranges_from_the_policy()
    {
        // Eight clean slots then masks, one diffusion row and one sequential row. With a window of 2 and 2 layers a
        // query reaches back 2 slots; slot 0 is farther from the last mask, so its token cannot matter there, while
        // the built-in B policy (full causal) lets it through.
        const int length = 12;
        var config = CachedForwardTests.TinyConfig(vocab: 23, mask: 5, length: 16);
        var model = new DiffusionTransformer(ModelParameters.CreateRandom(config, 4, 0.3f), new ComputeContext(1));
        var graph = new TrainingGraph(model);
        var x = Enumerable.Range(0, 2 * length).Select(i => 6 + (i % 15)).ToArray();
        var order = Enumerable.Range(0, length).ToArray();
        RowCorruption Row(bool sequential, int b) =>
            new(sequential, 0.5, [.. Enumerable.Range(0, length).Select(p => p < 8 ? x[(b * length) + p] : 5)], order);

        float LastLoss(ObjectiveOptions options, int[] tokens, int row)
        {
            var objective = new EsoLmObjective(options, config.MaskTokenId);
            var batch = new TrainingBatch();
            var corruption = new[] { Row(false, 0), Row(true, 1) };
            for (int b = 0; b < 2; b++)
            {
                corruption[b] = corruption[b] with { Noisy = [.. Enumerable.Range(0, length).Select(p => p < 8 ? tokens[(b * length) + p] : 5)] };
            }

            objective.Build(tokens, 2, length, corruption, batch, forEvaluation: true);
            graph.Run(batch, null);
            return graph.RowLosses[row == 0 ? length - 1 : length + length - 1]; // the last z-row of the row
        }

        var window = new ObjectiveOptions { Alpha0 = 0.5, MaskPolicy = new SlidingWindowPolicy(2) };
        var causal = new ObjectiveOptions { Alpha0 = 0.5 };
        for (int row = 0; row < 2; row++)
        {
            var perturbed = (int[])x.Clone();
            perturbed[row * length] = 20; // slot 0 of the row (clean)
            Assert.Equal(LastLoss(window, x, row), LastLoss(window, perturbed, row));
            Assert.NotEqual(LastLoss(causal, x, row), LastLoss(causal, perturbed, row));
        }
    }

    [Fact]
    public void A_model_trained_with_a_user_policy_records_it_and_DI_restores_it_by_key()
    {
        var tokenizer = TinyModels.Tokenizer;
        var policy = new SlidingWindowPolicy(4);
        var objective = new ObjectiveOptions { Alpha0 = 0.5, MaskPolicy = policy };
        var data = TokenDataset.FromDocuments(BuiltInLanguage.CreateGenerator(5).Documents(30, 2), tokenizer, 16, 0.1);
        var trainer = new EsoLmTrainer(TinyModels.Config(16), objective, new TrainerOptions { Steps = 3, BatchSize = 4, WarmupSteps = 1, Seed = 3 },
            data, new EsoLM.Backends.Cpu.CpuBackend(new ComputeContext(1)), tokenizer.Describe());
        var progress = trainer.Train();
        Assert.True(double.IsFinite(progress.Loss));
        var path = Path.Combine(_dir, "window.safetensors");
        trainer.SaveModel(path);

        // Without the policy registered, the file still says which masks it needs, and generation refuses other masks.
        var bare = EsoLmModel.Load(path);
        Assert.Equal("sliding-window", bare.Training!.MaskPolicy);
        Assert.Null(bare.Training.Objective);
        var refused = Assert.Throws<ArgumentException>(() => new EsoLmGenerator(bare));
        Assert.Contains("sliding-window", refused.Message, StringComparison.Ordinal);

        // Registered by key, the policy is restored into the objective and is the generator's default.
        var services = new ServiceCollection();
        services.AddEsoLm(o =>
        {
            o.ModelPath = path;
            o.Threads = 1;
        }).AddMaskPolicy("sliding-window", policy);
        using var provider = services.BuildServiceProvider();
        var model = provider.GetRequiredService<EsoLmModel>();
        Assert.Same(policy, model.Training!.Objective!.MaskPolicy);
        var strategies = provider.GetRequiredService<IEsoLmStrategyProvider>();
        var generator = new EsoLmGenerator(model, new EsoLmOptions { Sampler = "esolm" }, strategies);
        Assert.Same(policy, generator.Resolve(new GenerationRequest(string.Empty)).Settings.MaskPolicy);

        // It samples end to end with the policy's masks (the tokens of the uncached plain path) and the cache self-check passes.
        var result = generator.Generate(new GenerationRequest(string.Empty) { Seed = 7, MaxNewTokens = 16, Steps = 4 });
        var plain = new EsoLmSampler(model.Transformer, new EsoLmSamplerOptions
        {
            MaskPolicy = policy, AlphaEval = 0.5, Steps = 4, Length = 16, EosTokenId = model.EosTokenId, UseKvCache = false,
        }).Generate([new SamplingRequest { Seed = 7, SequenceId = 0 }]);
        Assert.Equal(plain.Sequences[0].Tokens, result.TokenIds.ToArray());
        Assert.True(CacheSelfCheck.Run(model.Transformer, new EsoLmSamplerOptions { MaskPolicy = policy, AlphaEval = 0.5, Steps = 4 }, batch: 3, seed: 2).Passed);

        // The NELBO of the restored objective equals the trainer's own validation NELBO (same policy, same weights).
        var rows = Enumerable.Range(0, data.ValidationRows).Select(i => (ReadOnlyMemory<int>)data.ValidationRow(i).ToArray()).ToArray();
        Assert.Equal(trainer.ValidationNelbo().Perplexity,
            EsoLM.Evaluation.NelboEvaluator.Evaluate(model.Transformer, model.Training.Objective, rows.Length, 16, i => rows[i], 16, seed: 12345).Perplexity,
            6);

        // ... and differs from the NELBO under the built-in causal masks, so the policy is really what is evaluated.
        Assert.NotEqual(trainer.ValidationNelbo().Perplexity,
            EsoLM.Evaluation.NelboEvaluator.Evaluate(model.Transformer, model.Training.Objective with { MaskPolicy = null }, rows.Length, 16, i => rows[i], 16,
                seed: 12345).Perplexity);
    }
}
