// PlugPoints: AddEsoLm with a user attention-mask policy, a user KV cache factory and a user sampler (a decoding
// strategy on the shared engine), all registered by key, selected in options, and used for generation.
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

#region plug-points
var services = new ServiceCollection();
services.AddEsoLm(options =>
    {
        options.Sampler = "left-to-right";     // the user strategy below
        options.MaskPolicy = "sliding-window"; // the user policy below
        options.KvCache = "bytes";             // the user cache factory below
        options.MaxNewTokens = 12;
    })
    .UseModel(model)
    .AddMaskPolicy("sliding-window", policy)
    .AddKvCache("bytes", caches)
    .AddStrategy("left-to-right", settings => new LeftToRightStrategy(settings.MaskPolicy),
        new SamplerCapabilities { UsesSteps = false, UsesAlphaEval = false, RequiresSequentialMode = true });

using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });
provider.GetRequiredService<IStartupValidator>().Validate();
var generator = provider.GetRequiredService<EsoLmGenerator>();
GenerationResult result = generator.Generate(new GenerationRequest("hi ") { Seed = 7 });
#endregion

// The user strategy is exact left-to-right decoding: the built-in "ar" sampler under the same policy and cache factory
// must give the same tokens.
GenerationResult reference = generator.Generate(new GenerationRequest("hi ") { Seed = 7, Sampler = "ar" });

// The cached Eso-LM sampler must agree with full recomputation under the user's masks.
var check = CacheSelfCheck.Run(model.Transformer, new EsoLmSamplerOptions { MaskPolicy = policy, AlphaEval = 0.5, Steps = 4 }, batch: 2, seed: 3);
Console.WriteLine($"completion: {result.TokenIds.Count} tokens; policy calls {policy.Calls}, cache bytes {caches.Bytes}, " +
    $"strategies created {LeftToRightStrategy.Created}, cache self-check max |diff| {check.MaxAbsDiff:E2}");
if (result.Sampler != "left-to-right" || policy.Calls == 0 || caches.Bytes == 0 || LeftToRightStrategy.Created == 0 || !check.Passed)
{
    Console.Error.WriteLine("FAIL: a registered plug point was not used, or the cache self-check failed.");
    return 1;
}

if (!result.TokenIds.SequenceEqual(reference.TokenIds))
{
    Console.Error.WriteLine($"FAIL: the user strategy gave [{string.Join(",", result.TokenIds)}], the built-in ar sampler [{string.Join(",", reference.TokenIds)}].");
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

#region strategy
/// <summary>
/// A user sampler as a decoding strategy: exact left-to-right decoding. Each pass feeds the previous position (now
/// clean) and one mask, with the policy's key ranges, reusing the KV cache for everything before. The engine does the
/// batching, caching, token selection, EOS handling and streaming.
/// </summary>
public sealed class LeftToRightStrategy : DecodingStrategy
{
    private static int _created;
    private readonly IAttentionMaskPolicy _policy;
    private KeyRange[] _ranges = [];
    private int[] _tokens = [];
    private int[] _positions = [];

    public LeftToRightStrategy(IAttentionMaskPolicy policy)
    {
        _policy = policy;
        Interlocked.Increment(ref _created);
    }

    public static int Created => Volatile.Read(ref _created);

    /// <summary>Per sequence: the next slot to decode and the step.</summary>
    private sealed class Progress
    {
        public int Next;
        public int Step;
    }

    public override void Initialize(DecodingSequence sequence, SamplingRequest request)
    {
        sequence.DrawGenerationOrder(request, diffusionTokens: 0); // known positions first, then the rest in order
        var progress = sequence.StrategyState as Progress ?? new Progress();
        progress.Next = sequence.KnownCount;
        progress.Step = 0;
        sequence.StrategyState = progress;
    }

    public override bool AddWindow(DecodingSequence sequence)
    {
        var progress = (Progress)sequence.StrategyState!;
        int next = progress.Next, end = next + 1;
        if (next >= sequence.Length)
        {
            return false;
        }

        // Cache slots [0, first) are final; the first pass encodes the known tokens, later passes the previous token.
        int first = progress.Step == 0 ? 0 : next - 1, rows = end - first;
        if (_ranges.Length < sequence.Length)
        {
            _ranges = new KeyRange[sequence.Length];
            _tokens = new int[sequence.Length];
            _positions = new int[sequence.Length];
        }

        _policy.Diffusion(end, sequence.KnownCount, _ranges.AsSpan(0, end));
        var order = sequence.GenerationOrder;
        for (int i = 0; i < rows; i++)
        {
            int slot = first + i;
            _tokens[i] = slot < next ? sequence.Tokens[order[slot]] : sequence.MaskTokenId;
            _positions[i] = order[slot];
        }

        sequence.AddWindow(first, _tokens.AsSpan(0, rows), _positions.AsSpan(0, rows), _ranges.AsSpan(first, rows), outputStart: rows - 1, outputCount: 1);
        return true;
    }

    public override (int Step, int Position) DrawKey(DecodingSequence sequence, int row)
    {
        var progress = (Progress)sequence.StrategyState!;
        return (progress.Step, sequence.GenerationOrder[progress.Next]);
    }

    public override void Commit(DecodingSequence sequence, ReadOnlySpan<float> logits)
    {
        var progress = (Progress)sequence.StrategyState!;
        int position = sequence.GenerationOrder[progress.Next];
        sequence.Commit(position, sequence.ChosenToken(0, position), SamplingPhase.Sequential, progress.Step);
        progress.Next++;
        progress.Step++;
    }
}
#endregion
