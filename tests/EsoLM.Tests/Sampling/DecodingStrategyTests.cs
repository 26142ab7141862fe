using EsoLM.Hosting;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Schedules;
using EsoLM.Tensors;
using EsoLM.Tests.Modeling;
using Microsoft.Extensions.DependencyInjection;

namespace EsoLM.Tests.Sampling;

/// <summary>The public strategy plug point: user strategies run on the one engine and reproduce the built-ins exactly.</summary>
public sealed class DecodingStrategyTests
{
    private static DiffusionTransformer Tiny(ulong seed, ComputeContext? compute = null) =>
        new(ModelParameters.CreateRandom(CachedForwardTests.TinyConfig(23, 5, 16), seed, 0.3f), compute);

    private static SamplingRequest[] Requests(ulong seed) =>
    [
        new() { SequenceId = 0, Seed = seed },
        new() { SequenceId = 1, Seed = seed, Prompt = [1, 2, 3] },
        new() { SequenceId = 2, Seed = seed, KnownTokens = [new KnownToken(9, 4), new KnownToken(12, 8)] },
        new() { SequenceId = 3, Seed = seed + 1, Prompt = [7] },
    ];

    /// <summary>
    /// Exact left-to-right decoding written against the public API only (the user's view): each step feeds the previous
    /// slot (now clean) and one mask, causal over the cache with the policy's key ranges. It is independent code for what
    /// the built-in <see cref="AutoregressiveSampler"/> does.
    /// </summary>
    private sealed class LeftToRight(IAttentionMaskPolicy policy) : DecodingStrategy
    {
        private KeyRange[] _prefix = [];

        private sealed class State
        {
            public int Done;
            public int Step;
            public int[] Tokens = [];
            public int[] Positions = [];
        }

        public override void Initialize(DecodingSequence sequence, SamplingRequest request)
        {
            sequence.DrawGenerationOrder(request, diffusionTokens: 0);
            var state = sequence.StrategyState as State ?? new State();
            if (state.Tokens.Length < sequence.Length)
            {
                state.Tokens = new int[sequence.Length];
                state.Positions = new int[sequence.Length];
            }

            state.Done = sequence.KnownCount;
            state.Step = 0;
            sequence.StrategyState = state;
        }

        public override bool AddWindow(DecodingSequence sequence)
        {
            var state = (State)sequence.StrategyState!;
            int done = state.Done;
            if (done >= sequence.Length)
            {
                return false;
            }

            int end = done + 1, start = state.Step == 0 ? 0 : done - 1;
            if (_prefix.Length < end)
            {
                _prefix = new KeyRange[sequence.Length];
            }

            policy.Diffusion(end, sequence.KnownCount, _prefix.AsSpan(0, end));
            var order = sequence.GenerationOrder;
            for (int slot = start; slot < end; slot++)
            {
                state.Tokens[slot - start] = slot < done ? sequence.Tokens[order[slot]] : sequence.MaskTokenId;
                state.Positions[slot - start] = order[slot];
            }

            int rows = end - start;
            sequence.AddWindow(start, state.Tokens.AsSpan(0, rows), state.Positions.AsSpan(0, rows), _prefix.AsSpan(start, rows), rows - 1, 1);
            return true;
        }

        public override (int Step, int Position) DrawKey(DecodingSequence sequence, int row)
        {
            var state = (State)sequence.StrategyState!;
            return (state.Step, sequence.GenerationOrder[state.Done + row]);
        }

        public override void Commit(DecodingSequence sequence, ReadOnlySpan<float> logits)
        {
            var state = (State)sequence.StrategyState!;
            int position = sequence.GenerationOrder[state.Done];
            sequence.Commit(position, sequence.ChosenToken(0, position), SamplingPhase.Sequential, state.Step);
            state.Done++;
            state.Step++;
        }
    }

    [Theory]
    [InlineData(1UL, 1)]
    [InlineData(2UL, 2)]
    [InlineData(3UL, 1)]
    public void A_user_strategy_written_on_the_public_api_reproduces_the_built_in_AR_sampler(ulong seed, int threads)
    {
        var model = Tiny(seed, new ComputeContext(threads));
        var selection = new TokenSelectionOptions { TopK = 6, Temperature = 0.9 };
        var requests = Requests(seed * 11);
        var builtIn = new AutoregressiveSampler(model, new AutoregressiveSamplerOptions { Selection = selection, Length = 14 }).Generate(requests);
        var user = new StrategySampler(model, new SamplerOptions { Selection = selection, Length = 14 }, new LeftToRight(EsoLmMaskPolicy.B), "l2r");
        var mine = user.Generate(requests);
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(builtIn.Sequences[i].Tokens, mine.Sequences[i].Tokens);
            Assert.Equal(builtIn.Sequences[i].GenerationOrder, mine.Sequences[i].GenerationOrder);
            Assert.Equal(builtIn.Sequences[i].ForwardPasses, mine.Sequences[i].ForwardPasses);
        }

        Assert.Equal(builtIn.TokensProcessed, mine.TokensProcessed);

        // Reused (pooled sequences keep their strategy state) and batched differently: the same tokens.
        Assert.Equal(builtIn.Sequences[3].Tokens, user.Generate([requests[3]]).Sequences[0].Tokens);
    }

    [Fact]
    public void A_user_strategy_streams_and_honours_eos_through_the_engine()
    {
        var model = Tiny(4);
        var requests = Requests(5);

        // EOS = a token request 0 generates at position 5 without EOS, so with it request 0 ends early.
        int eos = new AutoregressiveSampler(model, new AutoregressiveSamplerOptions { Length = 14 }).Generate(requests).Sequences[0].Tokens[5];
        var options = new SamplerOptions { Length = 14, EosTokenId = eos, Selection = TokenSelectionOptions.Default };
        var builtIn = new AutoregressiveSampler(model, new AutoregressiveSamplerOptions { Length = 14, EosTokenId = eos });
        var user = new StrategySampler(model, options, new LeftToRight(EsoLmMaskPolicy.B), "l2r");
        var expected = builtIn.Generate(requests);
        var streamed = user.GenerateStreamingAsync(requests).ToBlockingEnumerable().ToList();
        var result = streamed[^1].Result!;
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(expected.Sequences[i].Tokens, result.Sequences[i].Tokens);
            Assert.Equal(expected.Sequences[i].EndedWithEos, result.Sequences[i].EndedWithEos);
        }

        Assert.True(expected.Sequences[0].EndedWithEos); // the EOS path is exercised
    }

    [Theory]
    [InlineData("esolm", 0.5)]
    [InlineData("esolm", 0.0)]
    [InlineData("mdlm", 1.0)]
    [InlineData("bd3", 1.0)]
    public void A_built_in_re_registered_as_a_user_strategy_gives_identical_tokens(string sampler, double alpha)
    {
        static DecodingStrategy BuiltIn(string sampler, GenerationSettings s) => sampler switch
        {
            "esolm" => new EsoLmMethod(s.MaskPolicy, true, s.Steps, s.AlphaEval, s.Schedule, null),
            "mdlm" => new MdlmMethod(EsoLmMaskPolicy.Mdlm, s.Steps ?? s.Length, s.Schedule),
            _ => new BlockDiffusionMethod(Math.Min(s.BlockSize, s.Length), s.Steps ?? Math.Min(s.BlockSize, SamplerOptions.MaxSteps), s.Schedule),
        };

        var model = EsoLM.Tests.DependencyInjection.TinyModels.Model();
        var services = new ServiceCollection();
        services.AddEsoLm(o =>
            {
                o.Steps = 5;
                o.MaxNewTokens = 14;
                o.BlockSize = 4;
                o.AllowMaskPolicyMismatch = true;
            })
            .UseModel(model)
            .AddStrategy("mine", s => BuiltIn(sampler, s));
        using var provider = services.BuildServiceProvider();
        var generator = provider.GetRequiredService<EsoLmGenerator>();
        for (ulong seed = 1; seed <= 3; seed++)
        {
            var request = new GenerationRequest("ab") { Seed = seed, AlphaEval = sampler == "esolm" ? alpha : null };
            var expected = generator.Generate(request with { Sampler = sampler });
            var actual = generator.Generate(request with { Sampler = "mine" });
            Assert.Equal(expected.TokenIds, actual.TokenIds);
            Assert.Equal(expected.ForwardPasses, actual.ForwardPasses);
            Assert.Equal("mine", actual.Sampler);
        }
    }

    [Fact]
    public void Block_diffusion_takes_its_masks_from_a_policy()
    {
        var model = Tiny(6);
        var counting = new CountingPolicy(new BlockCausalMaskPolicy(4));
        var options = new BlockDiffusionSamplerOptions { BlockSize = 4, StepsPerBlock = 2, Length = 14 };
        var requests = Requests(9);
        var builtIn = new BlockDiffusionSampler(model, options).Generate(requests);
        var viaPolicy = new BlockDiffusionSampler(model, options with { MaskPolicy = counting }).Generate(requests);
        Assert.True(counting.Calls > 0);
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(builtIn.Sequences[i].Tokens, viaPolicy.Sequences[i].Tokens);
        }

        // A policy that hides the earlier blocks changes the logits, hence (for some request) the tokens.
        var blind = new BlockDiffusionSampler(model, options with { MaskPolicy = new OwnBlockOnly(4) }).Generate(requests);
        Assert.Contains(Enumerable.Range(0, requests.Length), i => !builtIn.Sequences[i].Tokens.SequenceEqual(blind.Sequences[i].Tokens));
    }

    private sealed class CountingPolicy(IAttentionMaskPolicy inner) : IAttentionMaskPolicy
    {
        public int Calls { get; private set; }

        public string Name => inner.Name;

        public EsoLmVariant? Variant => inner.Variant;

        public void Diffusion(int length, int numClean, Span<KeyRange> ranges)
        {
            Calls++;
            inner.Diffusion(length, numClean, ranges);
        }

        public void Sequential(int length, int numClean, Span<KeyRange> ranges) => inner.Sequential(length, numClean, ranges);
    }

    private sealed class OwnBlockOnly(int block) : IAttentionMaskPolicy
    {
        public string Name => "own-block";

        public EsoLmVariant? Variant => null;

        public void Diffusion(int length, int numClean, Span<KeyRange> ranges)
        {
            for (int q = 0; q < length; q++)
            {
                ranges[q] = KeyRange.Of(q / block * block, Math.Min(length, ((q / block) + 1) * block));
            }
        }

        public void Sequential(int length, int numClean, Span<KeyRange> ranges) => throw new NotSupportedException();
    }
}
