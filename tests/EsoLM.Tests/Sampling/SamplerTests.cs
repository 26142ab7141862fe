using EsoLM.Diagnostics;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Tensors;
using EsoLM.Tests.Modeling;

namespace EsoLM.Tests.Sampling;

public sealed class SamplerTests
{
    private static DiffusionTransformer Tiny(ulong seed = 1, int length = 16, ComputeContext? compute = null, int vocab = 23, int mask = 5) =>
        new(ModelParameters.CreateRandom(CachedForwardTests.TinyConfig(vocab, mask, length), seed, 0.3f), compute);

    private static ISampler[] AllSamplers(DiffusionTransformer model, int? eos = null) =>
    [
        new EsoLmSampler(model, new EsoLmSamplerOptions { AlphaEval = 0.5, Steps = 6, EosTokenId = eos }),
        new EsoLmSampler(model, new EsoLmSamplerOptions { Variant = EsoLmVariant.A, AlphaEval = 0.7, Steps = 5, EosTokenId = eos }),
        new EsoLmSampler(model, new EsoLmSamplerOptions { AlphaEval = 1, Steps = 4, Selection = new TokenSelectionOptions { TopP = 0.9 } }),
        new MdlmSampler(model, new MdlmSamplerOptions { Steps = 8, EosTokenId = eos }),
        new BlockDiffusionSampler(model, new BlockDiffusionSamplerOptions { BlockSize = 4, StepsPerBlock = 3, EosTokenId = eos }),
        new AutoregressiveSampler(model, new AutoregressiveSamplerOptions { EosTokenId = eos, Selection = new TokenSelectionOptions { TopK = 5, Temperature = 0.8 } }),
        new AutoregressiveSampler(model, new AutoregressiveSamplerOptions { Mode = AutoregressiveMode.OneTokenPerStepTiming }),
    ];

    private static SamplingRequest[] Requests(int count, ulong seed = 7) =>
        [.. Enumerable.Range(0, count).Select(i => new SamplingRequest
        {
            SequenceId = i,
            Seed = seed,
            Prompt = i % 2 == 0 ? new[] { 1, 2, 3 }[..(i % 3)] : null,
            KnownTokens = i % 3 == 2 ? [new KnownToken(9, 4), new KnownToken(12, 8)] : null,
        })];

    [Theory]
    [InlineData(EsoLmVariant.B, 0.0, 1)]
    [InlineData(EsoLmVariant.B, 0.5, 2)]
    [InlineData(EsoLmVariant.B, 1.0, 3)]
    [InlineData(EsoLmVariant.A, 0.0, 4)]
    [InlineData(EsoLmVariant.A, 0.6, 5)]
    [InlineData(EsoLmVariant.A, 1.0, 6)]
    public void Cached_and_uncached_sampling_give_identical_tokens(EsoLmVariant variant, double alpha, int seed)
    {
        var model = Tiny((ulong)seed);
        var options = new EsoLmSamplerOptions { Variant = variant, AlphaEval = alpha, Steps = 1 + (seed % 5), Length = 14 };
        var requests = Requests(4, (ulong)seed);
        var cached = new EsoLmSampler(model, options).Generate(requests);
        var full = new EsoLmSampler(model, options with { UseKvCache = false }).Generate(requests);
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(full.Sequences[i].Tokens, cached.Sequences[i].Tokens);
        }

        Assert.Equal(full.ForwardPasses, cached.ForwardPasses);

        // Every case takes several steps (so the cache has something to reuse) and then feeds strictly fewer rows.
        Assert.True(full.ForwardPasses >= 2, $"the case should take several steps, took {full.ForwardPasses}");
        Assert.True(cached.TokensProcessed < full.TokensProcessed, $"cached fed {cached.TokensProcessed} rows, full {full.TokensProcessed}");
    }

    [Fact]
    public void Cache_self_check_passes_for_both_variants()
    {
        var model = Tiny(3);
        foreach (var variant in new[] { EsoLmVariant.A, EsoLmVariant.B })
        {
            var r = CacheSelfCheck.Run(model, new EsoLmSamplerOptions { Variant = variant, AlphaEval = 0.5, Steps = 4 }, batch: 2, seed: 9);
            Assert.True(r.Passed);
            Assert.InRange(r.MaxAbsDiff, 0, 5e-5);
            Assert.True(r.Steps > 1 && r.LogitsCompared > 0);
        }
    }

    [Fact]
    public void Every_sampler_keeps_known_tokens_and_never_emits_the_mask()
    {
        var model = Tiny(2);
        var requests = Requests(5);
        foreach (var sampler in AllSamplers(model))
        {
            var result = sampler.Generate(requests);
            Assert.Equal(requests.Length, result.Sequences.Count);
            for (int i = 0; i < requests.Length; i++)
            {
                var tokens = result.Sequences[i].Tokens;
                Assert.Equal(16, tokens.Length);
                Assert.DoesNotContain(5, tokens);
                Assert.All(tokens, t => Assert.InRange(t, 0, 22));
                var prompt = requests[i].Prompt ?? [];
                Assert.Equal(prompt, tokens.Take(prompt.Count));
                foreach (var k in requests[i].KnownTokens ?? [])
                {
                    Assert.Equal(k.TokenId, tokens[k.Position]);
                }

                // Known positions come first in the generation order.
                var order = result.Sequences[i].GenerationOrder;
                int known = prompt.Count + (requests[i].KnownTokens?.Count ?? 0);
                Assert.Equal(Enumerable.Range(0, 16), order.Order());
                Assert.All(order.Take(known), p => Assert.True(p < prompt.Count || requests[i].KnownTokens!.Any(k => k.Position == p)));
            }
        }
    }

    [Fact]
    public void Output_depends_only_on_seed_and_sequence_id_not_batch_or_threads()
    {
        var parameters = ModelParameters.CreateRandom(CachedForwardTests.TinyConfig(), 4, 0.3f);
        var one = new DiffusionTransformer(parameters, new ComputeContext(1));
        var two = new DiffusionTransformer(parameters, new ComputeContext(2));
        var target = new SamplingRequest { SequenceId = 3, Seed = 99, Prompt = [7, 8] };
        var others = Requests(4, 12345);
        SamplingRequest[] batch5 = [others[0], others[1], target, others[2], others[3]];
        var single = AllSamplers(one);
        var batched = AllSamplers(two);
        for (int m = 0; m < single.Length; m++)
        {
            var a = single[m].Generate([target]).Sequences[0];
            var b = batched[m].Generate(batch5).Sequences[2];
            Assert.Equal(a.Tokens, b.Tokens);
            Assert.Equal(a.GenerationOrder, b.GenerationOrder);

            // Reusing the sampler (pooled buffers) gives the same again.
            Assert.Equal(a.Tokens, single[m].Generate([target]).Sequences[0].Tokens);
        }

        // A different seed or sequence id changes the output.
        var s = new EsoLmSampler(one, new EsoLmSamplerOptions { AlphaEval = 0.5 });
        var baseTokens = s.Generate([target]).Sequences[0].Tokens;
        Assert.NotEqual(baseTokens, s.Generate([target with { Seed = 100 }]).Sequences[0].Tokens);
        Assert.NotEqual(baseTokens, s.Generate([target with { SequenceId = 4 }]).Sequences[0].Tokens);
    }

    [Fact]
    public void Eos_in_the_sequential_phase_ends_the_sequence_and_trims_it()
    {
        var model = Tiny(6);
        var greedy = TokenSelectionOptions.GreedyDecoding;
        var request = new SamplingRequest { Seed = 1, Prompt = [2] };
        var free = new AutoregressiveSampler(model, new AutoregressiveSamplerOptions { Selection = greedy }).Generate([request]);
        var tokens = free.Sequences[0].Tokens;
        int j = Enumerable.Range(2, tokens.Length - 2).First(i => !tokens.Take(i).Contains(tokens[i]));
        int eos = tokens[j];
        var ended = new AutoregressiveSampler(model, new AutoregressiveSamplerOptions { Selection = greedy, EosTokenId = eos }).Generate([request]);
        Assert.True(ended.Sequences[0].EndedWithEos);
        Assert.Equal(tokens.Take(j), ended.Sequences[0].Tokens);
        Assert.Equal(j, ended.ForwardPasses); // positions 1..j decoded, then stop
        Assert.False(free.Sequences[0].EndedWithEos);

        // Eso-LM: the output is the full-run output trimmed before the first generated EOS.
        var opts = new EsoLmSamplerOptions { AlphaEval = 0.5, Steps = 4 };
        var full = new EsoLmSampler(model, opts).Generate([request]).Sequences[0].Tokens;
        int first = Enumerable.Range(1, full.Length - 1).First(i => full.Skip(1).Take(i).Distinct().Count() >= 2);
        int e = full[first];
        int cut = Array.IndexOf(full, e, 1);
        var trimmed = new EsoLmSampler(model, opts with { EosTokenId = e }).Generate([request]).Sequences[0];
        Assert.True(trimmed.EndedWithEos);
        Assert.Equal(full.Take(cut), trimmed.Tokens);
    }

    [Fact]
    public async Task Streaming_reports_every_commit_and_an_append_only_prefix()
    {
        var model = Tiny(8);
        var sampler = new EsoLmSampler(model, new EsoLmSamplerOptions
        {
            AlphaEval = 0.5,
            Steps = 4,
            Decoder = ids => string.Concat(ids.ToArray().Select(i => (char)('a' + i))),
        });
        var requests = Requests(3);
        var commits = new List<TokenCommit>();
        var prefixes = new Dictionary<int, List<PrefixUpdate>>();
        SamplingResult? result = null;
        await foreach (var update in sampler.GenerateStreamingAsync(requests))
        {
            commits.AddRange(update.Commits);
            foreach (var p in update.Prefixes)
            {
                (prefixes.TryGetValue(p.RequestIndex, out var l) ? l : prefixes[p.RequestIndex] = []).Add(p);
            }

            result ??= update.Result;
        }

        Assert.NotNull(result);
        Assert.Equal(result, sampler.Generate(requests) with { Elapsed = result.Elapsed, Sequences = result.Sequences });
        for (int i = 0; i < requests.Length; i++)
        {
            var tokens = result.Sequences[i].Tokens;
            var mine = commits.Where(c => c.RequestIndex == i).ToList();
            Assert.Equal(Enumerable.Range(0, 16), mine.Select(c => c.Position).Order());
            Assert.All(mine, c => Assert.Equal(tokens[c.Position], c.TokenId));
            Assert.All(mine.Where(c => c.Phase == SamplingPhase.Known), c => Assert.Equal(-1, c.Step));
            var ups = prefixes[i];
            string text = "";
            for (int u = 0; u < ups.Count; u++)
            {
                Assert.Equal(tokens.Take(ups[u].Tokens.Count), ups[u].Tokens);
                Assert.True(u == 0 || ups[u].Tokens.Count >= ups[u - 1].Tokens.Count);
                text += ups[u].NewText;
                Assert.Equal(text, ups[u].Text);
            }

            Assert.True(ups[^1].Finished);
            Assert.Equal(16, ups[^1].Tokens.Count);
            Assert.Equal(sampler.Generate(requests).Sequences[i].Tokens, tokens);
        }
    }

    [Fact]
    public async Task Cancellation_is_honoured_every_step()
    {
        var model = Tiny(8);
        var sampler = new EsoLmSampler(model, new EsoLmSamplerOptions { AlphaEval = 0 });
        using var cts = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in sampler.GenerateStreamingAsync(Requests(2), cts.Token))
            {
                seen++;
                await cts.CancelAsync();
            }
        });
        Assert.Equal(1, seen);
        Assert.Throws<OperationCanceledException>(() => sampler.Generate(Requests(2), cts.Token));

        // The sampler is usable again afterwards.
        Assert.Equal(2, sampler.Generate(Requests(2)).Sequences.Count);
    }

    [Fact]
    public void Step_counts_match_each_method()
    {
        var model = Tiny(9);
        var req = new[] { new SamplingRequest { Seed = 5 } };
        var ar = new AutoregressiveSampler(model).Generate(req);
        Assert.Equal(16, ar.ForwardPasses);
        Assert.Equal(2 * 16 - 1, ar.TokensProcessed);
        var timing = new AutoregressiveSampler(model, new AutoregressiveSamplerOptions { Mode = AutoregressiveMode.OneTokenPerStepTiming }).Generate(req);
        Assert.Equal(16, timing.ForwardPasses);
        Assert.Equal(16, timing.TokensProcessed);
        var eso = new EsoLmSampler(model, new EsoLmSamplerOptions { AlphaEval = 1, Steps = 5 }).Generate(req);
        Assert.InRange(eso.ForwardPasses, 1, 5);
        var mdlm = new MdlmSampler(model, new MdlmSamplerOptions { Steps = 6 }).Generate(req);
        Assert.InRange(mdlm.ForwardPasses, 1, 6);
        Assert.Equal(mdlm.ForwardPasses * 16L, mdlm.TokensProcessed);
        var bd = new BlockDiffusionSampler(model, new BlockDiffusionSamplerOptions { BlockSize = 4, StepsPerBlock = 2 }).Generate(req);
        Assert.InRange(bd.ForwardPasses, 4, 8);

        // A fully known sequence needs no pass.
        var known = new EsoLmSampler(model).Generate([new SamplingRequest { Prompt = Enumerable.Repeat(1, 16).ToArray() }]);
        Assert.Equal(0, known.ForwardPasses);
        Assert.Equal(Enumerable.Repeat(1, 16), known.Sequences[0].Tokens);
    }

    [Fact]
    public void Bad_inputs_fail_with_clear_exceptions()
    {
        var model = Tiny(1);
        var s = new EsoLmSampler(model);
        var tooLong = Assert.Throws<ArgumentOutOfRangeException>("request", () => s.Generate([new SamplingRequest { Prompt = new int[17] }]));
        Assert.Contains("longer than the sequence length 16", tooLong.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>("request", () => s.Generate([new SamplingRequest { KnownTokens = [new KnownToken(16, 1)] }]));
        Assert.Throws<ArgumentOutOfRangeException>("request", () => s.Generate([new SamplingRequest { KnownTokens = [new KnownToken(-1, 1)] }]));
        Assert.Throws<ArgumentException>("request", () => s.Generate([new SamplingRequest { KnownTokens = [new KnownToken(3, 1), new KnownToken(3, 2)] }]));
        Assert.Throws<ArgumentException>("request", () => s.Generate([new SamplingRequest { Prompt = [1, 2], KnownTokens = [new KnownToken(1, 2)] }]));
        Assert.Throws<ArgumentOutOfRangeException>("token", () => s.Generate([new SamplingRequest { Prompt = [5] }]));
        Assert.Throws<ArgumentOutOfRangeException>("token", () => s.Generate([new SamplingRequest { Prompt = [23] }]));
        Assert.Throws<ArgumentOutOfRangeException>("requests", () => s.Generate([]));
        Assert.Throws<ArgumentNullException>("requests", () => s.Generate(null!));
        Assert.Throws<ArgumentOutOfRangeException>("Length", () => new EsoLmSampler(model, new EsoLmSamplerOptions { Length = 17 }));
        Assert.Throws<ArgumentOutOfRangeException>("Steps", () => new EsoLmSampler(model, new EsoLmSamplerOptions { Steps = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>("AlphaEval", () => new EsoLmSampler(model, new EsoLmSamplerOptions { AlphaEval = 1.01 }));
        Assert.Throws<ArgumentOutOfRangeException>("AlphaEval", () => new EsoLmSampler(model, new EsoLmSamplerOptions { AlphaEval = -0.5 }));
        Assert.Throws<ArgumentOutOfRangeException>("TopP", () => new EsoLmSampler(model, new EsoLmSamplerOptions { Selection = new() { TopP = 0 } }));
        Assert.Throws<ArgumentOutOfRangeException>("TopP", () => new MdlmSampler(model, new MdlmSamplerOptions { Selection = new() { TopP = 1.5 } }));
        var temp = Assert.Throws<ArgumentOutOfRangeException>("Temperature",
            () => new AutoregressiveSampler(model, new AutoregressiveSamplerOptions { Selection = new() { Temperature = 0 } }));
        Assert.Contains("Greedy", temp.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>("EosTokenId", () => new EsoLmSampler(model, new EsoLmSamplerOptions { EosTokenId = 5 }));
        Assert.Throws<ArgumentOutOfRangeException>("EosTokenId", () => new EsoLmSampler(model, new EsoLmSamplerOptions { EosTokenId = 23 }));
        Assert.Throws<ArgumentOutOfRangeException>("BlockSize", () => new BlockDiffusionSampler(model, new BlockDiffusionSamplerOptions { BlockSize = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>("Steps", () => new MdlmSampler(model, new MdlmSamplerOptions { Steps = 0 }));
        var mismatch = Assert.Throws<ArgumentException>("Variant",
            () => new EsoLmSampler(model, new EsoLmSamplerOptions { Variant = EsoLmVariant.B, TrainedVariant = EsoLmVariant.A }));
        Assert.Contains("AllowVariantMismatch", mismatch.Message, StringComparison.Ordinal);
        _ = new EsoLmSampler(model, new EsoLmSamplerOptions { Variant = EsoLmVariant.B, TrainedVariant = EsoLmVariant.A, AllowVariantMismatch = true });
        Assert.Throws<ArgumentException>("request",
            () => new EsoLmSampler(model, new EsoLmSamplerOptions { FixedPlan = new StepPlan([3, 1], 3) }).Generate([new SamplingRequest()]));
        Assert.Throws<ArgumentException>("request", () => s.Generate([new SamplingRequest { GenerationOrder = [0, 1, 2] }]));

        // A model whose mask id is outside the vocabulary cannot even be built.
        var bad = CachedForwardTests.TinyConfig() with { MaskTokenId = 23 };
        Assert.Throws<ArgumentOutOfRangeException>("MaskTokenId", () => new DiffusionTransformer(ModelParameters.CreateRandom(bad, 1)));
    }
}
