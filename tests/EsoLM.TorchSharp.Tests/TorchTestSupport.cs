using EsoLM.Modeling;
using EsoLM.TorchSharp;

namespace EsoLM.TorchSharp.Tests;

/// <summary>Shared settings: torch on CPU with a fixed thread count (tests stay reproducible and light on shared CI cores).</summary>
internal static class TorchTestSupport
{
    public static readonly TorchBackendOptions Cpu = new() { Device = "cpu", CpuThreads = 2 };

    /// <summary>A small random model (golden-style init: every path matters).</summary>
    public static ModelParameters RandomModel(ulong seed, int vocab = 23, int hidden = 32, int heads = 4, int layers = 2, int context = 24, int maskId = 5)
    {
        var config = new ModelConfig
        {
            VocabSize = vocab,
            MaskTokenId = maskId,
            HiddenSize = hidden,
            Heads = heads,
            Layers = layers,
            CondDim = 16,
            MlpRatio = 2,
            ContextLength = context,
            FrequencyEmbeddingSize = 32,
        };
        return ModelParameters.CreateRandom(config, seed, std: 0.2f);
    }

    public static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double worst = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = Math.Abs(a[i] - b[i]);
            Assert.False(double.IsNaN(d), $"NaN at {i}");
            worst = Math.Max(worst, d);
        }

        return worst;
    }

    /// <summary>A random permutation of 0..n−1 (Fisher–Yates with a seeded Random).</summary>
    public static int[] Permutation(Random rng, int n)
    {
        var p = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(p);
        return p;
    }
}
