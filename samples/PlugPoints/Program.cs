// PlugPoints: AddEsoLm with a user attention-mask policy, a user KV cache factory and a user sampler, all registered by
// key, selected in options, and used for generation.
using EsoLM.Backends;
using EsoLM.Backends.Cpu;
using EsoLM.Caching;
using EsoLM.Diagnostics;
using EsoLM.Hosting;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Tensors;
using EsoLM.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

var config = new ModelConfig
{
    VocabSize = 258, MaskTokenId = 257, HiddenSize = 32, Heads = 4, Layers = 2,
    CondDim = 8, MlpRatio = 2, ContextLength = 32, FrequencyEmbeddingSize = 16,
};
var model = new EsoLmModel(CpuBackend.Default.Load(ModelParameters.CreateRandom(config, seed: 1, std: 0.3f)), new ByteTokenizer());
var policy = new SlidingWindowPolicy(window: 4);
var caches = new ByteCountingCacheFactory();
var sampler = new CountingSamplerFactory();

#region plug-points
var services = new ServiceCollection();
services.AddEsoLm(options =>
    {
        options.Sampler = "counting";          // the user sampler below
        options.MaskPolicy = "sliding-window"; // the user policy below
        options.KvCache = "bytes";             // the user cache factory below
        options.Steps = 4;
        options.MaxNewTokens = 12;
    })
    .UseModel(model)
    .AddMaskPolicy("sliding-window", policy)
    .AddKvCache("bytes", caches)
    .AddSampler("counting", sampler);

using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });
provider.GetRequiredService<IStartupValidator>().Validate();
GenerationResult result = provider.GetRequiredService<EsoLmGenerator>().Generate(new GenerationRequest("hi ") { Seed = 7 });
#endregion

// The cached sampler must agree with full recomputation under the user's masks.
var check = CacheSelfCheck.Run(model.Transformer, new EsoLmSamplerOptions { MaskPolicy = policy, AlphaEval = 0.5, Steps = 4 }, batch: 2, seed: 3);
Console.WriteLine($"completion: {result.TokenIds.Count} tokens; policy calls {policy.Calls}, cache bytes {caches.Bytes}, sampler calls {sampler.Calls}, " +
    $"cache self-check max |diff| {check.MaxAbsDiff:E2}");
if (result.Sampler != "counting" || policy.Calls == 0 || caches.Bytes == 0 || sampler.Calls == 0 || !check.Passed)
{
    Console.Error.WriteLine("FAIL: a registered plug point was not used, or the cache self-check failed.");
    return 1;
}

Console.WriteLine("PlugPoints OK");
return 0;

#region sliding-window
/// <summary>Causal in generation order, but each query sees only the <c>window</c> most recent slots.</summary>
public sealed class SlidingWindowPolicy(int window) : IAttentionMaskPolicy
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public string Name => "sliding-window";

    public EsoLmVariant? Variant => null;

    public void Diffusion(int length, int numClean, Span<KeyRange> ranges)
    {
        Interlocked.Increment(ref _calls);
        for (int q = 0; q < length; q++)
        {
            ranges[q] = KeyRange.Of(Math.Max(0, q - window + 1), q + 1);
        }
    }

    public void Sequential(int length, int numClean, Span<KeyRange> ranges)
    {
        for (int q = 0; q < length; q++)
        {
            ranges[q] = new KeyRange(q, q + 1, length + Math.Max(0, q - window + 1), length + q);
        }

        for (int i = 0; i < length; i++)
        {
            ranges[length + i] = KeyRange.Of(length + Math.Max(0, i - window + 1), length + i + 1);
        }
    }
}
#endregion

/// <summary>Hands out the backend's caches and counts their bytes.</summary>
public sealed class ByteCountingCacheFactory : IKvCacheFactory
{
    private long _bytes;

    public long Bytes => Interlocked.Read(ref _bytes);

    public string Name => "bytes";

    public IKvCache Create(INetwork network, int capacity)
    {
        var cache = network.CreateCache(capacity);
        Interlocked.Add(ref _bytes, cache.SizeInBytes);
        return cache;
    }
}

/// <summary>A user sampler: the Eso-LM sampler with the selected policy and cache factory, counting how often it is built.</summary>
public sealed class CountingSamplerFactory : ISamplerFactory
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public ISampler Create(INetwork model, GenerationSettings settings)
    {
        Interlocked.Increment(ref _calls);
        return new EsoLmSampler(model, new EsoLmSamplerOptions
        {
            Length = settings.Length, Steps = settings.Steps, AlphaEval = settings.AlphaEval, Selection = settings.Selection,
            EosTokenId = settings.EosTokenId, Schedule = settings.Schedule, MaskPolicy = settings.MaskPolicy, KvCacheFactory = settings.KvCache,
        });
    }
}
