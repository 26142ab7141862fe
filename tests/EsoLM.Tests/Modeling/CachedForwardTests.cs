using EsoLM.Backends.Cpu;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;

namespace EsoLM.Tests.Modeling;

/// <summary>The incremental cached forward (spec §4.3) against the plain full forward, on random models, orders and plans.</summary>
public sealed class CachedForwardTests
{
    internal static ModelConfig TinyConfig(int vocab = 23, int mask = 5, int length = 16) => new()
    {
        VocabSize = vocab,
        MaskTokenId = mask,
        HiddenSize = 32,
        Heads = 4,
        Layers = 2,
        CondDim = 8,
        MlpRatio = 2,
        ContextLength = length,
        FrequencyEmbeddingSize = 16,
    };

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void Cached_steps_equal_full_causal_forward_for_random_orders_and_plans(int seed)
    {
        var rng = new Random(seed);
        int length = rng.Next(3, 17);
        var config = TinyConfig(vocab: rng.Next(8, 40), mask: 0, length: 16) with { MaskTokenId = rng.Next(0, 8) };
        var model = new DiffusionTransformer(ModelParameters.CreateRandom(config, (ulong)seed, 0.3f));
        int batch = rng.Next(1, 4);
        int v = config.VocabSize, mask = config.MaskTokenId;

        // A random plan: step sizes summing to L, and a random order per row (the positions of each slot).
        var ks = new List<int>();
        for (int left = length; left > 0;)
        {
            int k = Math.Min(left, rng.Next(1, 4));
            ks.Add(k);
            left -= k;
        }

        var order = new int[batch * length];
        for (int b = 0; b < batch; b++)
        {
            var perm = Enumerable.Range(0, length).OrderBy(_ => rng.Next()).ToArray();
            perm.CopyTo(order, b * length);
        }

        var decoded = new int[batch * length];
        var cached = new ModelSession(model, batch, length);
        var full = new ModelSession(model, batch, length);
        int done = 0, prev = 0;
        double worst = 0;
        foreach (int k in ks)
        {
            int a = done - prev, window = prev + k;
            var fed = new int[batch * window];
            var pos = new int[batch * window];
            for (int b = 0; b < batch; b++)
            {
                for (int i = 0; i < window; i++)
                {
                    int slot = a + i;
                    fed[(b * window) + i] = slot < done ? decoded[(b * length) + slot] : mask;
                    pos[(b * window) + i] = order[(b * length) + slot];
                }
            }

            var logits = new float[batch * k * v];
            cached.CachedStep(batch, a, window, fed, pos, prev, logits);

            var tokens = new int[batch * length];
            for (int b = 0; b < batch; b++)
            {
                for (int i = 0; i < length; i++)
                {
                    tokens[(b * length) + i] = i < done ? decoded[(b * length) + i] : mask;
                }
            }

            var fullLogits = new float[batch * length * v];
            full.Diffusion(EsoLmVariant.B, batch, length, tokens, order, new int[batch], fullLogits);
            for (int b = 0; b < batch; b++)
            {
                for (int r = 0; r < k; r++)
                {
                    for (int t = 0; t < v; t++)
                    {
                        double diff = Math.Abs(logits[(((b * k) + r) * v) + t] - fullLogits[(((b * length) + done + r) * v) + t]);
                        worst = Math.Max(worst, diff);
                    }

                    // Greedy choice (never the mask) becomes the decoded token.
                    int best = -1;
                    for (int t = 0; t < v; t++)
                    {
                        if (t != mask && (best < 0 || logits[(((b * k) + r) * v) + t] > logits[(((b * k) + r) * v) + best]))
                        {
                            best = t;
                        }
                    }

                    decoded[(b * length) + done + r] = best;
                }
            }

            done += k;
            prev = k;
        }

        Assert.InRange(worst, 0, 2e-5);
    }

    [Fact]
    public void Rows_of_a_batch_are_independent_and_thread_count_does_not_matter()
    {
        var config = TinyConfig();
        var parameters = ModelParameters.CreateRandom(config, 7, 0.3f);
        var many = new DiffusionTransformer(parameters, new ComputeContext(2));
        var one = new DiffusionTransformer(parameters, new ComputeContext(1, SimdLevel.Scalar));
        int length = 10, v = config.VocabSize;
        var rng = new Random(3);
        var tokens = Enumerable.Range(0, 3 * length).Select(_ => rng.Next(v)).ToArray();
        var positions = Enumerable.Range(0, 3).SelectMany(_ => Enumerable.Range(0, length).OrderBy(_ => rng.Next())).ToArray();
        var clean = new[] { 3, 0, 10 };
        var batched = new float[3 * length * v];
        new ModelSession(many, 3, length).Diffusion(EsoLmVariant.A, 3, length, tokens, positions, clean, batched);
        for (int b = 0; b < 3; b++)
        {
            var single = new float[length * v];
            new ModelSession(one, 1, length).Diffusion(EsoLmVariant.A, 1, length, tokens.AsSpan(b * length, length),
                positions.AsSpan(b * length, length), clean.AsSpan(b, 1), single);
            for (int i = 0; i < single.Length; i++)
            {
                Assert.True(Math.Abs(single[i] - batched[(b * length * v) + i]) <= 1e-5, $"row {b} value {i}");
            }
        }
    }

    [Theory]
    [InlineData(WeightFormat.Float32)]
    [InlineData(WeightFormat.BFloat16)]
    [InlineData(WeightFormat.Int8)]
    public void A_sequence_gets_the_same_bits_alone_and_in_a_batch(WeightFormat format)
    {
        // Same engine and thread count: 30 rows (12-row tiles plus a leftover group) against 10 rows (small-M kernels)
        // must give every row identical logits, so a sequence's tokens never depend on the batch it shares.
        var config = TinyConfig();
        var parameters = ModelParameters.CreateRandom(config, 8, 0.3f);
        var model = (DiffusionTransformer)new CpuBackend(new ComputeContext(2), format).Load(parameters);
        int length = 10, v = config.VocabSize;
        var rng = new Random(5);
        var tokens = Enumerable.Range(0, 3 * length).Select(_ => rng.Next(v)).ToArray();
        var positions = Enumerable.Range(0, 3).SelectMany(_ => Enumerable.Range(0, length).OrderBy(_ => rng.Next())).ToArray();
        var clean = new[] { 4, 0, 10 };
        var batched = new float[3 * length * v];
        new ModelSession(model, 3, length).Diffusion(EsoLmVariant.A, 3, length, tokens, positions, clean, batched);
        for (int b = 0; b < 3; b++)
        {
            var single = new float[length * v];
            new ModelSession(model, 1, length).Diffusion(EsoLmVariant.A, 1, length, tokens.AsSpan(b * length, length),
                positions.AsSpan(b * length, length), clean.AsSpan(b, 1), single);
            Assert.True(single.AsSpan().SequenceEqual(batched.AsSpan(b * length * v, length * v)), $"{format}: sequence {b} alone differs from in the batch");
        }
    }

    [Fact]
    public void Sequential_mode_row_equals_cached_one_token_step()
    {
        // With one token per step, the cached step's prediction for slot s equals z-row s of the 2L sequential forward
        // (z masked from slot s on, x = the decoded tokens): the identity behind Eso-LM (B)'s sequential phase.
        var config = TinyConfig();
        var model = new DiffusionTransformer(ModelParameters.CreateRandom(config, 11, 0.3f));
        int length = 9, v = config.VocabSize, mask = config.MaskTokenId;
        var rng = new Random(5);
        var order = Enumerable.Range(0, length).OrderBy(_ => rng.Next()).ToArray();
        var x = Enumerable.Range(0, length).Select(_ => (rng.Next(v - 1) + mask + 1) % v).ToArray();
        var session = new ModelSession(model, 1, 2 * length);
        var cache = new ModelSession(model, 1, length);
        for (int s = 0; s < length; s++)
        {
            int a = Math.Max(0, s - 1), window = s - a + 1;
            var fed = new int[window];
            var pos = new int[window];
            for (int i = 0; i < window; i++)
            {
                fed[i] = a + i < s ? x[a + i] : mask;
                pos[i] = order[a + i];
            }

            var step = new float[v];
            cache.CachedStep(1, a, window, fed, pos, window - 1, step);
            var z = Enumerable.Range(0, length).Select(i => i < s ? x[i] : mask).ToArray();
            var seq = new float[length * v];
            session.Sequential(EsoLmVariant.B, 1, length, z, x, order, [s], seq);
            for (int t = 0; t < v; t++)
            {
                Assert.True(Math.Abs(step[t] - seq[(s * v) + t]) <= 2e-5, $"slot {s} token {t}: {step[t]} vs {seq[(s * v) + t]}");
            }
        }
    }
}
