using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.TorchSharp;
using static EsoLM.TorchSharp.Tests.TorchTestSupport;

namespace EsoLM.TorchSharp.Tests;

/// <summary>The torch forward against the managed engine on random models, in every mode.</summary>
public sealed class ForwardParityTests
{
    private const double Tolerance = 1e-4;

    [Theory]
    [InlineData(EsoLmVariant.A)]
    [InlineData(EsoLmVariant.B)]
    [InlineData(EsoLmVariant.Mdlm)]
    public void Diffusion_mode_matches_managed(EsoLmVariant variant)
    {
        var p = RandomModel(11);
        var cfg = p.Config;
        var rng = new Random(3);
        int batch = 3, length = 17;
        var (tokens, positions, clean) = RandomRows(rng, cfg, batch, length);
        var expected = new float[batch * length * cfg.VocabSize];
        new ModelSession(new DiffusionTransformer(p), batch, length).Diffusion(variant, batch, length, tokens, positions, clean, expected);
        using var model = new TorchDiffusionTransformer(p, Cpu);
        using var session = new TorchModelSession(model, batch, length);
        var actual = new float[expected.Length];
        session.Diffusion(variant, batch, length, tokens, positions, clean, actual);
        Assert.True(MaxAbsDiff(actual, expected) <= Tolerance, $"max |diff| {MaxAbsDiff(actual, expected)}");
    }

    [Theory]
    [InlineData(EsoLmVariant.A)]
    [InlineData(EsoLmVariant.B)]
    public void Sequential_mode_matches_managed(EsoLmVariant variant)
    {
        var p = RandomModel(12);
        var cfg = p.Config;
        var rng = new Random(4);
        int batch = 2, length = 12;
        var (masked, positions, clean) = RandomRows(rng, cfg, batch, length);
        var x = new int[batch * length];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = masked[i] == cfg.MaskTokenId ? (cfg.MaskTokenId + 1 + rng.Next(cfg.VocabSize - 1)) % cfg.VocabSize : masked[i];
        }

        var expected = new float[batch * length * cfg.VocabSize];
        new ModelSession(new DiffusionTransformer(p), batch, 2 * length).Sequential(variant, batch, length, masked, x, positions, clean, expected);
        using var model = new TorchDiffusionTransformer(p, Cpu);
        using var session = new TorchModelSession(model, batch, 2 * length);
        var actual = new float[expected.Length];
        session.Sequential(variant, batch, length, masked, x, positions, clean, actual);
        Assert.True(MaxAbsDiff(actual, expected) <= Tolerance, $"max |diff| {MaxAbsDiff(actual, expected)}");
    }

    [Fact]
    public void Cached_windows_match_managed_and_the_full_forward()
    {
        // Decode a permuted sequence window by window (1–4 tokens per step), re-feeding the previous step's tokens:
        // every step's logits must match the managed cached step, and the last step must equal the uncached forward.
        var p = RandomModel(13);
        var cfg = p.Config;
        var rng = new Random(5);
        int batch = 2, length = 20;
        var order = new int[batch * length];
        var final = new int[batch * length];
        for (int b = 0; b < batch; b++)
        {
            Permutation(rng, length).CopyTo(order, b * length);
            for (int i = 0; i < length; i++)
            {
                final[(b * length) + i] = (cfg.MaskTokenId + 1 + rng.Next(cfg.VocabSize - 1)) % cfg.VocabSize;
            }
        }

        var managed = new ModelSession(new DiffusionTransformer(p), batch, length);
        using var model = new TorchDiffusionTransformer(p, Cpu);
        using var session = new TorchModelSession(model, batch, length);
        int a = 0, s = 0;
        double worst = 0;
        while (s < length)
        {
            int k = Math.Min(length - s, 1 + rng.Next(4));
            int window = s + k - a;
            var fed = new int[batch * window];
            var fedPos = new int[batch * window];
            for (int b = 0; b < batch; b++)
            {
                for (int i = 0; i < window; i++)
                {
                    int slot = a + i;
                    fed[(b * window) + i] = slot < s ? final[(b * length) + slot] : cfg.MaskTokenId;
                    fedPos[(b * window) + i] = order[(b * length) + slot];
                }
            }

            var expected = new float[batch * k * cfg.VocabSize];
            var actual = new float[expected.Length];
            managed.CachedStep(batch, a, window, fed, fedPos, s - a, expected);
            session.CachedStep(batch, a, window, fed, fedPos, s - a, actual);
            worst = Math.Max(worst, MaxAbsDiff(actual, expected));
            a = s;
            s += k;
        }

        Assert.True(worst <= Tolerance, $"max |diff| {worst}");
    }

    [Fact]
    public void Ragged_windows_on_arbitrary_cache_rows_match_managed()
    {
        // The general forward: two windows of different lengths written into cache rows 2 and 0 (not 0..B−1).
        var p = RandomModel(14);
        var cfg = p.Config;
        var rng = new Random(6);
        int[] lengths = [9, 5];
        int rows = lengths.Sum();
        var tokens = Enumerable.Range(0, rows).Select(_ => rng.Next(cfg.VocabSize)).ToArray();
        var positions = lengths.SelectMany(n => Permutation(rng, n)).ToArray();
        var ranges = new EsoLM.Tensors.KeyRange[rows];
        MaskRules.Diffusion(EsoLmVariant.A, lengths[0], 4, ranges.AsSpan(0, lengths[0]));
        MaskRules.Diffusion(EsoLmVariant.B, lengths[1], 0, ranges.AsSpan(lengths[0], lengths[1]));
        var managedModel = new DiffusionTransformer(p);
        var ws = managedModel.CreateWorkspace();
        var batch = new ForwardBatch();
        batch.Add(managedModel.CreateCache(12), 0, tokens.AsSpan(0, 9), positions.AsSpan(0, 9), ranges.AsSpan(0, 9), 2, 5);
        batch.Add(managedModel.CreateCache(12), 0, tokens.AsSpan(9, 5), positions.AsSpan(9, 5), ranges.AsSpan(9, 5), 0, 5);
        var expected = new float[10 * cfg.VocabSize];
        managedModel.Forward(batch, ws, expected);

        using var model = new TorchDiffusionTransformer(p, Cpu);
        using var session = new TorchModelSession(model, 3, 12);
        var actual = new float[expected.Length];
        session.Forward([new TorchWindow(2, 0, 9, 2, 5), new TorchWindow(0, 0, 5, 0, 5)], tokens, positions, ranges, actual);
        Assert.True(MaxAbsDiff(actual, expected) <= Tolerance, $"max |diff| {MaxAbsDiff(actual, expected)}");
    }

    private static (int[] Tokens, int[] Positions, int[] Clean) RandomRows(Random rng, ModelConfig cfg, int batch, int length)
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
                tokens[(b * length) + i] = i < clean[b] ? (cfg.MaskTokenId + 1 + rng.Next(cfg.VocabSize - 1)) % cfg.VocabSize : cfg.MaskTokenId;
            }
        }

        return (tokens, positions, clean);
    }
}
