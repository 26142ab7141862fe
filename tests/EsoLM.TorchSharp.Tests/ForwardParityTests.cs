using EsoLM.Backends;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;
using static EsoLM.TorchSharp.Tests.TorchTestSupport;

namespace EsoLM.TorchSharp.Tests;

/// <summary>The torch forward against the managed CPU backend on random models, in every mode, through the backend contract.</summary>
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
        var rng = new Random(3);
        int batch = 3, length = 17;
        var (tokens, positions, clean) = RandomRows(rng, p.Config, batch, length);
        var expected = Diffusion(Managed.Load(p.Clone()), variant, batch, length, tokens, positions, clean);
        using var torch = (TorchNetwork)Torch.Load(p);
        var actual = Diffusion(torch, variant, batch, length, tokens, positions, clean);
        Assert.True(MaxAbsDiff(actual, expected) <= Tolerance, $"max |diff| {MaxAbsDiff(actual, expected)}");
    }

    [Fact]
    public void Log_probabilities_match_managed()
    {
        var p = RandomModel(15);
        var rng = new Random(8);
        int batch = 2, length = 10;
        var (tokens, positions, clean) = RandomRows(rng, p.Config, batch, length);
        var expected = Diffusion(Managed.Load(p.Clone()), EsoLmVariant.B, batch, length, tokens, positions, clean, ForwardOutput.LogProbabilities);
        using var torch = (TorchNetwork)Torch.Load(p);
        var actual = Diffusion(torch, EsoLmVariant.B, batch, length, tokens, positions, clean, ForwardOutput.LogProbabilities);
        for (int i = 0; i < actual.Length; i++)
        {
            if (float.IsNegativeInfinity(expected[i]))
            {
                Assert.True(float.IsNegativeInfinity(actual[i]), $"index {i}: the mask id must get −∞");
                actual[i] = expected[i] = 0;
            }
        }

        Assert.True(MaxAbsDiff(actual, expected) <= Tolerance, $"max |diff| {MaxAbsDiff(actual, expected)}");
    }

    [Theory]
    [InlineData(EsoLmVariant.A)]
    [InlineData(EsoLmVariant.B)]
    public void Sequential_mode_matches_managed(EsoLmVariant variant)
    {
        var p = RandomModel(12);
        var rng = new Random(4);
        int batch = 2, length = 12;
        var (masked, positions, clean) = RandomRows(rng, p.Config, batch, length);
        var x = masked.Select(t => t == p.Config.MaskTokenId ? NonMask(rng, p.Config) : t).ToArray();
        var expected = Sequential(Managed.Load(p.Clone()), variant, batch, length, masked, x, positions, clean);
        using var torch = (TorchNetwork)Torch.Load(p);
        var actual = Sequential(torch, variant, batch, length, masked, x, positions, clean);
        Assert.True(MaxAbsDiff(actual, expected) <= Tolerance, $"max |diff| {MaxAbsDiff(actual, expected)}");
    }

    [Fact]
    public void Cached_windows_match_managed_and_the_uncached_forward()
    {
        // Decode permuted sequences window by window (1–4 tokens a step, re-feeding the previous step's tokens): every
        // step's logits must match the managed cached step, and the torch cached logits must equal torch's own full
        // (uncached) causal forward over the same slots.
        var p = RandomModel(13);
        var cfg = p.Config;
        var rng = new Random(5);
        int batch = 2, length = 20, v = cfg.VocabSize;
        var order = new int[batch * length];
        var final = new int[batch * length];
        for (int b = 0; b < batch; b++)
        {
            Permutation(rng, length).CopyTo(order, b * length);
            for (int i = 0; i < length; i++)
            {
                final[(b * length) + i] = NonMask(rng, cfg);
            }
        }

        var managed = Managed.Load(p.Clone());
        using var torch = (TorchNetwork)Torch.Load(p);
        var mCaches = Enumerable.Range(0, batch).Select(_ => managed.CreateCache(length)).ToArray();
        var tCaches = Enumerable.Range(0, batch).Select(_ => torch.CreateCache(length)).ToArray();
        var mWs = managed.CreateWorkspace();
        var tWs = torch.CreateWorkspace();
        int a = 0, s = 0;
        double worst = 0, worstFull = 0;
        while (s < length)
        {
            int k = Math.Min(length - s, 1 + rng.Next(4));
            int window = s + k - a;
            var mb = new ForwardBatch();
            var tb = new ForwardBatch();
            var ranges = new KeyRange[window];
            MaskRules.CausalWindow(a, window, ranges);
            var fullTokens = new int[batch * length];
            for (int b = 0; b < batch; b++)
            {
                var fed = new int[window];
                var fedPos = new int[window];
                for (int i = 0; i < window; i++)
                {
                    int slot = a + i;
                    fed[i] = slot < s ? final[(b * length) + slot] : cfg.MaskTokenId;
                    fedPos[i] = order[(b * length) + slot];
                }

                mb.Add(mCaches[b], a, fed, fedPos, ranges, s - a, k);
                tb.Add(tCaches[b], a, fed, fedPos, ranges, s - a, k);
                for (int i = 0; i < length; i++)
                {
                    fullTokens[(b * length) + i] = i < s ? final[(b * length) + i] : cfg.MaskTokenId;
                }
            }

            var expected = new float[batch * k * v];
            var actual = new float[expected.Length];
            managed.Forward(mb, mWs, ForwardOutput.Logits, expected);
            torch.Forward(tb, tWs, ForwardOutput.Logits, actual);
            worst = Math.Max(worst, MaxAbsDiff(actual, expected));

            var full = Diffusion(torch, EsoLmVariant.B, batch, length, fullTokens, order, new int[batch]);
            var fullRows = new float[batch * k * v];
            for (int b = 0; b < batch; b++)
            {
                full.AsSpan(((b * length) + s) * v, k * v).CopyTo(fullRows.AsSpan(b * k * v));
            }

            worstFull = Math.Max(worstFull, MaxAbsDiff(actual, fullRows));
            a = s;
            s += k;
        }

        Assert.True(worst <= Tolerance, $"cached vs managed: max |diff| {worst}");
        Assert.True(worstFull <= Tolerance, $"cached vs full: max |diff| {worstFull}");
    }

    [Fact]
    public void Ragged_windows_on_reused_caches_match_managed()
    {
        // Windows of different lengths, caches handed out in a different order than the batch (a released cache row is
        // reused), outputs from the middle of a window.
        var p = RandomModel(14);
        var cfg = p.Config;
        var rng = new Random(6);
        int[] lengths = [9, 5, 7];
        int[] outStart = [2, 0, 3];
        int[] outCount = [5, 5, 4];
        var managed = Managed.Load(p.Clone());
        using var torch = (TorchNetwork)Torch.Load(p);
        var spare = (TorchKvCache)torch.CreateCache(12);
        var t1 = torch.CreateCache(12);
        var t2 = torch.CreateCache(12);
        spare.Dispose();
        var t0 = torch.CreateCache(12);
        IKvCache[] tCaches = [t1, t0, t2];
        var mb = new ForwardBatch();
        var tb = new ForwardBatch();
        for (int w = 0; w < lengths.Length; w++)
        {
            int n = lengths[w];
            var tokens = Enumerable.Range(0, n).Select(_ => rng.Next(cfg.VocabSize)).ToArray();
            var positions = Permutation(rng, n);
            var ranges = new KeyRange[n];
            MaskRules.Diffusion(w == 0 ? EsoLmVariant.A : EsoLmVariant.B, n, w == 0 ? 4 : 0, ranges);
            mb.Add(managed.CreateCache(12), 0, tokens, positions, ranges, outStart[w], outCount[w]);
            tb.Add(tCaches[w], 0, tokens, positions, ranges, outStart[w], outCount[w]);
        }

        var expected = new float[mb.OutputRowCount * cfg.VocabSize];
        var actual = new float[expected.Length];
        managed.Forward(mb, managed.CreateWorkspace(), ForwardOutput.Logits, expected);
        torch.Forward(tb, torch.CreateWorkspace(), ForwardOutput.Logits, actual);
        Assert.True(MaxAbsDiff(actual, expected) <= Tolerance, $"max |diff| {MaxAbsDiff(actual, expected)}");
    }

    [Fact]
    public void Foreign_handles_and_bad_rows_are_rejected_with_clear_errors()
    {
        var p = RandomModel(16);
        using var torch = (TorchNetwork)Torch.Load(p);
        var managed = Managed.Load(p.Clone());
        var fb = new ForwardBatch();
        fb.Add(managed.CreateCache(4), 0, [1, 2], [0, 1], [KeyRange.Of(0, 1), KeyRange.Of(0, 2)], 0, 2);
        var e = Assert.Throws<ArgumentException>(() => torch.Forward(fb, torch.CreateWorkspace(), ForwardOutput.Logits, new float[2 * p.Config.VocabSize]));
        Assert.Contains("not created by this torch network", e.Message, StringComparison.Ordinal);
        var bad = new ForwardBatch();
        bad.Add(torch.CreateCache(4), 0, [1, p.Config.VocabSize], [0, 1], [KeyRange.Of(0, 1), KeyRange.Of(0, 2)], 0, 2);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => torch.Forward(bad, torch.CreateWorkspace(), ForwardOutput.Logits, new float[2 * p.Config.VocabSize]));
        Assert.Contains("outside the vocabulary", e2.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parameters_round_trip_through_the_device()
    {
        var p = RandomModel(17);
        using var torch = (TorchNetwork)Torch.Load(p);
        var back = torch.CopyParametersToHost();
        for (int i = 0; i < p.Tensors.Count; i++)
        {
            Assert.Equal(p.Tensors[i].Data, back.Tensors[i].Data);
        }

        var q = RandomModel(18);
        torch.LoadParameters(q);
        Assert.Equal(q.Tensors[3].Data, torch.CopyParametersToHost().Tensors[3].Data);
    }
}

/// <summary>Reduced-precision matrix products (meant for CUDA; they also run on CPU) stay close to fp32.</summary>
public sealed class PrecisionTests
{
    [Theory]
    [InlineData(TorchPrecision.Bf16, 5e-2)]
    [InlineData(TorchPrecision.Fp16, 1e-2)]
    public void Reduced_precision_logits_stay_close_to_fp32(TorchPrecision precision, double tolerance)
    {
        var p = RandomModel(41, std: 0.05f);
        var rng = new Random(9);
        int batch = 2, length = 12;
        var (tokens, positions, clean) = RandomRows(rng, p.Config, batch, length);
        using var fp32 = (TorchNetwork)Torch.Load(p);
        var expected = Diffusion(fp32, EsoLmVariant.B, batch, length, tokens, positions, clean);
        var backend = new TorchBackend(CpuOptions with { Precision = precision });
        Assert.Contains(precision == TorchPrecision.Bf16 ? "bf16" : "fp16", backend.Description.DataType, StringComparison.Ordinal);
        using var low = (TorchNetwork)backend.Load(p);
        var actual = Diffusion(low, EsoLmVariant.B, batch, length, tokens, positions, clean);
        double diff = MaxAbsDiff(actual, expected);
        Assert.True(diff <= tolerance, $"max |diff| {diff}");
        Assert.True(diff > 0, "the reduced-precision path must actually run in reduced precision");
    }
}
