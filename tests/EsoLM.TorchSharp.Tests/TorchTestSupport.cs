using EsoLM.Backends;
using EsoLM.Backends.Cpu;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;

namespace EsoLM.TorchSharp.Tests;

/// <summary>Shared settings and helpers: torch on CPU with a fixed thread count, tiny random models, the three forward modes.</summary>
internal static class TorchTestSupport
{
    public static readonly TorchBackendOptions CpuOptions = new() { Device = "cpu", CpuThreads = 2 };

    private static readonly Lazy<TorchBackend> LazyTorch = new(() => new TorchBackend(CpuOptions));

    public static TorchBackend Torch => LazyTorch.Value;

    public static CpuBackend Managed { get; } = new(new ComputeContext(2));

    /// <summary>A small random model (golden-style init: every path matters).</summary>
    public static ModelParameters RandomModel(ulong seed, int vocab = 23, int hidden = 32, int heads = 4, int layers = 2, int context = 24, int maskId = 5,
        float std = 0.2f)
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
        return ModelParameters.CreateRandom(config, seed, std);
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

    public static int[] Permutation(Random rng, int n)
    {
        var p = Enumerable.Range(0, n).ToArray();
        rng.Shuffle(p);
        return p;
    }

    /// <summary>Diffusion mode over sorted rows, through the public contract only.</summary>
    public static float[] Diffusion(INetwork net, EsoLmVariant variant, int batch, int length, int[] tokens, int[] positions, int[] clean,
        ForwardOutput output = ForwardOutput.Logits)
    {
        var fb = new ForwardBatch();
        var ranges = new KeyRange[length];
        for (int b = 0; b < batch; b++)
        {
            MaskRules.Diffusion(variant, length, clean[b], ranges);
            fb.Add(net.CreateCache(length), 0, tokens.AsSpan(b * length, length), positions.AsSpan(b * length, length), ranges, 0, length);
        }

        var logits = new float[batch * length * net.Config.VocabSize];
        net.Forward(fb, net.CreateWorkspace(), output, logits);
        return logits;
    }

    /// <summary>Sequential (2L) mode: logits of the z rows.</summary>
    public static float[] Sequential(INetwork net, EsoLmVariant variant, int batch, int length, int[] masked, int[] x, int[] positions, int[] clean)
    {
        var fb = new ForwardBatch();
        var ranges = new KeyRange[2 * length];
        for (int b = 0; b < batch; b++)
        {
            MaskRules.Sequential(variant, length, clean[b], ranges);
            var tok = masked.AsSpan(b * length, length).ToArray().Concat(x.AsSpan(b * length, length).ToArray()).ToArray();
            var pos = positions.AsSpan(b * length, length).ToArray();
            fb.Add(net.CreateCache(2 * length), 0, tok, pos.Concat(pos).ToArray(), ranges, 0, length);
        }

        var logits = new float[batch * length * net.Config.VocabSize];
        net.Forward(fb, net.CreateWorkspace(), ForwardOutput.Logits, logits);
        return logits;
    }

    /// <summary>Random sorted rows: clean ids first (never the mask id), then masks; random positions.</summary>
    public static (int[] Tokens, int[] Positions, int[] Clean) RandomRows(Random rng, ModelConfig cfg, int batch, int length)
    {
        var tokens = new int[batch * length];
        var positions = new int[batch * length];
        var clean = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            clean[b] = rng.Next(length + 1);
            Permutation(rng, length).CopyTo(positions, b * length);
            for (int i = 0; i < length; i++)
            {
                tokens[(b * length) + i] = i < clean[b] ? NonMask(rng, cfg) : cfg.MaskTokenId;
            }
        }

        return (tokens, positions, clean);
    }

    public static int NonMask(Random rng, ModelConfig cfg) => (cfg.MaskTokenId + 1 + rng.Next(cfg.VocabSize - 1)) % cfg.VocabSize;
}
