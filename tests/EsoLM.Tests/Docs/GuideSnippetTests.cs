using EsoLM.Backends;
using EsoLM.Backends.Cpu;
using System.Text;
using EsoLM.Caching;
using EsoLM.Hosting;
using EsoLM.Masks;
using EsoLM.Sampling;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Tests.DependencyInjection;
using EsoLM.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.Tokenizers;
using Microsoft.Extensions.Options;

namespace EsoLM.Tests.Docs;

/// <summary>
/// The code of the docs site's guide pages (docs/guide/*.md include the #region blocks of this file). Each snippet runs
/// here and its result is checked against an independent statement of what the guide says it does.
/// </summary>
public sealed class GuideSnippetTests
{
    [Fact]
    public void Mask_policy_ranges_expand_to_the_rules_the_guide_states()
    {
        #region mask-ranges
        EsoLmMaskPolicy policy = EsoLmMaskPolicy.B;          // an IAttentionMaskPolicy; DI keys "esolm-b", "esolm-a"
        var ranges = new KeyRange[8];
        policy.Diffusion(length: 8, numClean: 3, ranges);    // ranges[q] = the keys query slot q may see
        bool[,] allowed = MaskRules.ToDense(ranges, keys: 8);
        #endregion

        var rangesA = new KeyRange[8];
        EsoLmMaskPolicy.A.Diffusion(8, 3, rangesA);
        bool[,] allowedA = MaskRules.ToDense(rangesA, 8);
        for (int q = 0; q < 8; q++)
        {
            for (int k = 0; k < 8; k++)
            {
                Assert.Equal(k <= q, allowed[q, k]);                          // B: causal in generation order
                Assert.Equal(k <= q || (q < 3 && k < 3), allowedA[q, k]);     // A: clean slots also see each other
            }
        }
    }

    [Fact]
    public void A_custom_mask_policy_describes_a_sliding_window()
    {
        var policy = new SlidingWindowPolicy(window: 3);
        var ranges = new KeyRange[10];
        policy.Diffusion(10, 0, ranges);
        var allowed = MaskRules.ToDense(ranges, 10);
        for (int q = 0; q < 10; q++)
        {
            for (int k = 0; k < 10; k++)
            {
                Assert.Equal(k <= q && q - k < 3, allowed[q, k]);
            }
        }

        // Registered by key, the built-in sampler generates with it: the tokens of the plain path that recomputes every step.
        var services = new ServiceCollection();
        services.AddEsoLm(o =>
            {
                o.MaskPolicy = "window";
                o.MaxNewTokens = 8;
                o.Steps = 4;
            })
            .UseModel(TinyModels.Model())
            .AddMaskPolicy<SlidingWindowPolicy>("window");
        using var provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();
        var generator = provider.GetRequiredService<EsoLmGenerator>();
        var result = generator.Generate(new GenerationRequest(string.Empty) { Seed = 3 });
        var plain = new EsoLmSampler(generator.Model.Transformer, new EsoLmSamplerOptions
        {
            MaskPolicy = new SlidingWindowPolicy(), Steps = 4, Length = 8, EosTokenId = generator.Model.EosTokenId, UseKvCache = false,
        }).Generate([new SamplingRequest { Seed = 3, SequenceId = 0 }]);
        Assert.Equal(plain.Sequences[0].Tokens, result.TokenIds.ToArray());
    }

    #region custom-mask-policy
    /// <summary>Each query sees itself and the window − 1 slots before it in generation order.</summary>
    public sealed class SlidingWindowPolicy(int window) : IAttentionMaskPolicy
    {
        public SlidingWindowPolicy()
            : this(64)
        {
        }

        public string Name => "window";

        public EsoLmVariant? Variant => null;   // custom: the built-in samplers take its ranges (cached where they allow)

        public void Diffusion(int length, int numClean, Span<KeyRange> ranges)
        {
            for (int q = 0; q < length; q++)
            {
                ranges[q] = KeyRange.Of(Math.Max(0, q - window + 1), q + 1);
            }
        }

        public void Sequential(int length, int numClean, Span<KeyRange> ranges) =>
            MaskRules.Sequential(EsoLmVariant.B, length, numClean, ranges);
    }
    #endregion

    [Fact]
    public void A_pooling_kv_cache_factory_is_used_by_generation()
    {
        #region register-kv-cache
        var services = new ServiceCollection();
        services.AddEsoLm(options =>
            {
                options.KvCache = "pooled";      // select the factory registered below
                options.MaxNewTokens = 6;
            })
            .UseModel(TinyModels.Model())
            .AddKvCache<PoolingCacheFactory>("pooled");
        using var provider = services.BuildServiceProvider();
        var generator = provider.GetRequiredService<EsoLmGenerator>();
        GenerationResult result = generator.Generate(new GenerationRequest("the") { Seed = 2 });
        #endregion

        var factory = (PoolingCacheFactory)provider.GetRequiredKeyedService<IKvCacheFactory>("pooled");
        Assert.True(factory.Created > 0, "the sampler must take its caches from the selected factory");
        Assert.NotEmpty(result.TokenIds);

        // The factory does not change what is generated: the built-in dense factory gives the same tokens.
        using var plain = new ServiceCollection().AddEsoLm(o => o.MaxNewTokens = 6).UseModel(TinyModels.Model()).Services.BuildServiceProvider();
        var expected = plain.GetRequiredService<EsoLmGenerator>().Generate(new GenerationRequest("the") { Seed = 2 });
        Assert.Equal(expected.TokenIds, result.TokenIds);
    }

    #region custom-kv-cache
    /// <summary>Creates dense caches and counts them (a real one would rent them from a pool).</summary>
    public sealed class PoolingCacheFactory : IKvCacheFactory
    {
        private int _created;

        public int Created => Volatile.Read(ref _created);

        public string Name => "pooled";

        public IKvCache Create(INetwork network, int capacity)
        {
            Interlocked.Increment(ref _created);
            return network.CreateCache(capacity);   // the storage belongs to the network's backend
        }
    }
    #endregion

    [Fact]
    public void A_user_sampler_is_selected_by_key()
    {
        #region register-sampler
        var services = new ServiceCollection();
        services.AddEsoLm(options => options.Sampler = "recording")
            .UseModel(TinyModels.Model())
            .AddSampler<RecordingSamplerFactory>("recording");   // a key of a built-in ("esolm") replaces it
        using var provider = services.BuildServiceProvider();
        var result = provider.GetRequiredService<EsoLmGenerator>().Generate(new GenerationRequest("the") { Seed = 3, MaxNewTokens = 4 });
        #endregion

        var factory = (RecordingSamplerFactory)provider.GetRequiredKeyedService<ISamplerFactory>("recording");
        Assert.Equal(1, factory.Calls);
        Assert.Equal("recording", result.Sampler);
    }

    [Fact]
    public void Tokenizers_round_trip_and_count_as_the_guide_says()
    {
        #region tokenizers
        var bytes = new ByteTokenizer();                              // UTF-8 bytes: 256 ids + <|endoftext|>
        int[] ids = bytes.Encode("héllo, world");
        string text = bytes.Decode(ids);

        var chars = CharTokenizer.FromCorpus("the cat sat on a mat.");   // one id per distinct character
        int[] charIds = chars.Encode("a cat");

        // Any Microsoft.ML.Tokenizers Tokenizer; the factory builds the CLI's --tokenizer specs (and makes them savable)
        Tokenizer fromSpec = TokenizerFactory.FromSpec("tiktoken:gpt2", allowSpecial: true);
        TokenizerVocabulary vocabulary = TokenizerVocabulary.Of(fromSpec);   // size, end-of-text id, mask token (if any)
        #endregion

        Assert.Equal("héllo, world", text);
        Assert.Equal(Encoding.UTF8.GetByteCount("héllo, world"), ids.Length);
        Assert.Equal(5, charIds.Length);
        Assert.Equal("a cat", chars.Decode(charIds));
        Assert.Equal([vocabulary.EndOfTextId!.Value], fromSpec.Encode("<|endoftext|>"));
        Assert.Equal("héllo", fromSpec.Decode(fromSpec.Encode("héllo")));
    }

    [Fact]
    public void A_compute_context_selects_threads_and_simd_and_does_not_change_results()
    {
        var parameters = ModelParameters.CreateRandom(TinyModels.Config(), 5, 0.3f);

        #region compute-context
        var compute = new ComputeContext(maxDegreeOfParallelism: 2, simd: SimdLevel.Auto);   // Auto = widest accelerated
        var backend = new CpuBackend(compute);                                                 // the managed engine
        var model = new EsoLmModel(backend.Load(parameters), TinyModels.Tokenizer);
        // A saved model: EsoLmModel.Load("model.safetensors", backend); with DI: options.Backend and options.Threads.
        #endregion

        var scalar = new EsoLmModel(new CpuBackend(new ComputeContext(1, SimdLevel.Scalar)).Load(parameters), TinyModels.Tokenizer);
        Assert.Equal(ComputeContext.BestAvailable, compute.Simd);
        Assert.Equal(2, compute.MaxDegreeOfParallelism);

        // Greedy decoding on the SIMD and the scalar context picks the same tokens (the kernels agree to rounding).
        static IReadOnlyList<int> Greedy(EsoLmModel m)
        {
            using var provider = new ServiceCollection().AddEsoLm(o => { o.Greedy = true; o.MaxNewTokens = 8; }).UseModel(m).Services.BuildServiceProvider();
            return provider.GetRequiredService<EsoLmGenerator>().Generate(new GenerationRequest("the") { Seed = 1 }).TokenIds;
        }

        Assert.Equal(Greedy(scalar), Greedy(model));
    }
}
