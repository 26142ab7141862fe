using EsoLM.Backends;
using EsoLM.Caching;
using EsoLM.Masks;
using EsoLM.Tensors;
using EsoLM.Training;
using Microsoft.Extensions.DependencyInjection;

namespace EsoLM.Tests.Samples;

/// <summary>A sliding-window policy and a byte-counting cache factory registered together (the PlugPoints sample's plug points).</summary>
public sealed class PlugPointExamples
{
    internal sealed class SlidingWindowPolicy(int window) : IAttentionMaskPolicy
    {
        public string Name => "sliding-window";

        public EsoLmVariant? Variant => null; // not a built-in variant

        public void Diffusion(int length, int numClean, Span<KeyRange> ranges)
        {
            for (int q = 0; q < length; q++)
            {
                ranges[q] = KeyRange.Of(Math.Max(0, q - window + 1), q + 1);
            }
        }

        public void Sequential(int length, int numClean, Span<KeyRange> ranges)
        {
            for (int q = 0; q < length; q++)
            {
                ranges[q] = new KeyRange(q, q + 1, length + Math.Max(0, q - window + 1), length + q); // z-row: itself + the window of x before it
            }

            for (int i = 0; i < length; i++)
            {
                ranges[length + i] = KeyRange.Of(length + Math.Max(0, i - window + 1), length + i + 1); // x-copy: causal within the window
            }
        }
    }

    internal sealed class ByteCountingCacheFactory : IKvCacheFactory
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

    [Fact]
    public void The_documented_plug_points_register_and_validate()
    {
        var services = new ServiceCollection();

        // Train with the policy, then serve the model: the file records "sliding-window", the registry supplies the instance.
        var objective = new ObjectiveOptions { Alpha0 = 0.5, MaskPolicy = new SlidingWindowPolicy(4) };
        services.AddEsoLm(o => o.ModelPath = "window.safetensors")
            .AddMaskPolicy("sliding-window", new SlidingWindowPolicy(4))
            .AddKvCache("bytes", new ByteCountingCacheFactory());

        objective.Validate();
        Assert.Equal("sliding-window", TrainingDescription.FromObjective(objective).MaskPolicy);
        using var provider = services.BuildServiceProvider();
        Assert.IsType<SlidingWindowPolicy>(provider.GetRequiredKeyedService<IAttentionMaskPolicy>("sliding-window"));
        Assert.IsType<ByteCountingCacheFactory>(provider.GetRequiredKeyedService<IKvCacheFactory>("bytes"));
    }
}
