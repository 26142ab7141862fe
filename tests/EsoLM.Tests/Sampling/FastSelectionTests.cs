using EsoLM.Randomness;
using EsoLM.Sampling;

namespace EsoLM.Tests.Sampling;

/// <summary>The lazy Gumbel / histogram-nucleus fast path of <see cref="TokenSelector"/> equals the plain path token for token.</summary>
public sealed class FastSelectionTests
{
    private static float[] Logits(int v, int kind, int seed)
    {
        var rng = new Random(seed);
        var x = new float[v];
        for (int i = 0; i < v; i++)
        {
            double n = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            x[i] = kind switch
            {
                0 => (float)(0.05 * n),                       // a random-weight model: nearly flat
                1 => (float)n,                                // unit spread
                2 => (float)((4 * n) - 5),                    // trained-model-like spread
                3 => (float)Math.Round(n * 2) / 2,             // many exact ties
                _ => (float)(i < 5 ? 30 + n : (3 * n) - 10),  // a few dominant tokens
            };
        }

        return x;
    }

    public static TheoryData<double, int, double> Options => new()
    {
        { 1.0, 0, 1.0 },
        { 0.7, 0, 1.0 },
        { 1.0, 0, 0.9 },
        { 1.3, 0, 0.5 },
        { 1.0, 0, 0.99 },
        { 1.0, 50, 1.0 },
        { 0.8, 1000, 0.9 },
        { 1.0, 3, 0.95 },
    };

    [Theory]
    [MemberData(nameof(Options))]
    public void Fast_path_equals_plain_path_at_gpt2_vocabulary(double temperature, int topK, double topP)
    {
        const int v = 50258, mask = 50257;
        var selector = new TokenSelector(v, mask, new TokenSelectionOptions { Temperature = temperature, TopK = topK, TopP = topP });
        for (int kind = 0; kind < 5; kind++)
        {
            for (int seed = 0; seed < 6; seed++)
            {
                var logits = Logits(v, kind, (kind * 100) + seed);
                var key = new DrawKey((ulong)(seed * 7919), seed % 3, seed, (kind * 13) + seed);
                Assert.Equal(selector.SelectReference(logits, key), selector.Select(logits, key));
            }
        }
    }

    [Fact]
    public void Fast_path_equals_plain_path_on_many_seeds_and_small_rows()
    {
        const int v = 300, mask = 17;
        TokenSelectionOptions[] options =
        [
            TokenSelectionOptions.Default, new() { TopP = 0.9 }, new() { TopP = 0.3, Temperature = 0.5 }, new() { TopK = 7 },
            new() { TopK = 40, TopP = 0.8, Temperature = 2 }, new() { TopP = 1e-6 },
        ];
        foreach (var o in options)
        {
            var selector = new TokenSelector(v, mask, o);
            for (int seed = 0; seed < 400; seed++)
            {
                var logits = Logits(v, seed % 5, seed);
                logits[mask] = seed % 7 == 0 ? 1e4f : logits[mask]; // the model loves the mask sometimes
                var key = new DrawKey((ulong)seed, seed, seed % 11, seed % 97);
                int fast = selector.Select(logits, key);
                Assert.Equal(selector.SelectReference(logits, key), fast);
                Assert.NotEqual(mask, fast);
            }
        }
    }

    [Fact]
    public void Fast_path_equals_plain_path_on_random_options_ties_and_minus_infinity()
    {
        // Property: for random logits shapes (flat, spread, heavy ties, a few dominant entries), −∞ entries, and random
        // temperature / top-k (incl. k = 1) / top-p (incl. tiny p and p = 1), the fast path picks the plain path's token.
        var rng = new Random(2026);
        foreach (int v in new[] { 97, 1000, 50258 })
        {
            int rows = v > 10000 ? 120 : 400;
            for (int trial = 0; trial < rows; trial++)
            {
                int mask = rng.Next(v);
                double p = rng.Next(6) switch { 0 => 1.0, 1 => 1e-9, 2 => 0.999, _ => 0.05 + (0.9 * rng.NextDouble()) };
                int k = rng.Next(5) switch { 0 => 1, 1 => rng.Next(2, 50), _ => 0 };
                double t = rng.Next(3) == 0 ? 0.3 + (2 * rng.NextDouble()) : 1.0;
                var options = new TokenSelectionOptions { TopP = p, TopK = k, Temperature = t };
                var selector = new TokenSelector(v, mask, options);
                var logits = Logits(v, trial % 5, (v * 1000) + trial);
                int infinite = rng.Next(4) == 0 ? rng.Next(1, v / 2) : 0;
                for (int i = 0; i < infinite; i++)
                {
                    logits[rng.Next(v)] = float.NegativeInfinity;
                }

                var key = new DrawKey((ulong)rng.Next(), rng.Next(8), rng.Next(100), rng.Next(v));
                int expected = selector.SelectReference(logits, key);
                Assert.Equal(expected, selector.Select(logits, key));
                Assert.NotEqual(mask, expected);
            }
        }
    }

    [Fact]
    public void Float_stage_decides_most_rows_and_always_agrees()
    {
        // The float32 stage must carry the load (not defer everything to the float64 stage) and every row it decides must be
        // the reference's token: checked directly on SelectFloat, not only through Select.
        const int v = 50258, mask = 50257;
        TokenSelectionOptions[] options =
        [
            TokenSelectionOptions.Default, new() { TopP = 0.9 }, new() { TopK = 50 }, new() { Temperature = 0.7, TopP = 0.95 },
            new() { TopK = 1000, TopP = 0.5, Temperature = 1.5 },
        ];
        foreach (var o in options)
        {
            var selector = new TokenSelector(v, mask, o);
            var fast = selector.Fast!;
            int decided = 0, rows = 0;
            for (int kind = 0; kind < 5; kind++)
            {
                for (int seed = 0; seed < 8; seed++)
                {
                    var logits = Logits(v, kind, (kind * 1000) + seed + 17);
                    var key = new DrawKey((ulong)seed + 5, seed, seed * 3, kind + seed);
                    int f = fast.SelectFloat(logits, key);
                    rows++;
                    if (f >= 0)
                    {
                        decided++;
                        Assert.Equal(selector.SelectReference(logits, key), f);
                    }
                }
            }

            if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
            {
                Assert.Equal(0, decided); // without Vector512 the float32 stage declines every row (the float64 stage decides)
                continue;
            }

            Assert.True(decided >= rows * 0.8, $"{o}: the float32 stage decided only {decided} of {rows} rows.");
        }
    }

    [Fact]
    public void Nucleus_boundary_too_close_for_float32_is_settled_in_float64_and_agrees()
    {
        // The flat row of `bench sample --selection-only` (N(0, 0.05²), seed 5) has its p = 0.9 boundary ≈ 1e-6 of the total
        // from p: inside the float32 margin, so rows whose Gumbel winner lies outside the nucleus need the float64 walk.
        const int v = 50258;
        var rng = new Random(5);
        var flat = new float[v];
        for (int i = 0; i < v; i++)
        {
            double n = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            flat[i] = (float)(0.05 * n);
        }

        var selector = new TokenSelector(v, v - 1, new TokenSelectionOptions { TopP = 0.9 });
        var fast = selector.Fast!;
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
        {
            Assert.Equal(-1, fast.SelectFloat(flat, new DrawKey(1, 0, 0, 0))); // the float32 stage needs Vector512
            return;
        }

        for (int step = 0; step < 120; step++)
        {
            var key = new DrawKey(1, 0, step, 0);
            int f = fast.SelectFloat(flat, key);
            Assert.True(f >= 0, $"step {step}: deferred");
            Assert.Equal(selector.SelectReference(flat, key), f);
        }
    }

    [Fact]
    public void Mask_holding_the_largest_logit_is_never_chosen_and_ties_keep_the_lowest_id()
    {
        // The mask shares the maximum with other entries (and sometimes sits before them): the float stage must take the
        // largest logit outside the mask, and ties between equal scores keep the lowest id, as the reference does.
        var rng = new Random(11);
        foreach (int v in new[] { 97, 1000, 50258 })
        {
            for (int trial = 0; trial < 60; trial++)
            {
                var logits = Logits(v, 3, trial);
                int mask = rng.Next(v);
                float top = logits.Max() + 1;
                logits[mask] = top;
                for (int i = 0; i < 3; i++)
                {
                    logits[rng.Next(v)] = top;
                }

                logits[mask] = trial % 2 == 0 ? top : top + 5;
                var o = (trial % 4) switch
                {
                    0 => TokenSelectionOptions.Default,
                    1 => new TokenSelectionOptions { TopP = 0.9 },
                    2 => new TokenSelectionOptions { TopK = 2 },
                    _ => new TokenSelectionOptions { TopK = 3, TopP = 0.6, Temperature = 0.4 },
                };
                var selector = new TokenSelector(v, mask, o);
                var key = new DrawKey((ulong)trial, 1, trial, 2);
                int expected = selector.SelectReference(logits, key);
                Assert.NotEqual(mask, expected);
                Assert.Equal(expected, selector.Select(logits, key));
            }
        }
    }

    [Fact]
    public void Float_softmax_mass_error_is_inside_the_certified_bound()
    {
        // The float32 stage assumes (1) the exp kernels (ExpMass on the vector body, MathF.Exp on the tail) are within
        // ExpRelativeError of exp for float arguments in [−87, 0] and below 4e-38 beneath, and (2) with the float32 argument
        // a = (l − l_max)·(float)(1/T), each mass is within (ArgumentRelativeError·|a| + ExpRelativeError) of the float64
        // value exp(l/T − l_max/T) the reference uses. Check both against Math.Exp.
        var rng = new Random(3);
        double worstKernel = 0;
        var args = new float[16];
        var ls = new float[16];
        for (int trial = 0; trial < 20000; trial++)
        {
            for (int i = 0; i < 16; i++)
            {
                args[i] = -(float)(rng.NextDouble() * (i < 4 ? 110 : i < 12 ? 20 : 1));
            }

            var k = FastSelection.ExpMass(System.Runtime.Intrinsics.Vector512.Create(args));
            for (int i = 0; i < 16; i++)
            {
                double exact = Math.Exp(args[i]);
                foreach (double got in new[] { (double)k[i], MathF.Exp(args[i]) })
                {
                    double err = Math.Abs(got - exact);
                    Assert.True(err <= (FastSelection.ExpRelativeError * exact) + 4e-38, $"exp error {err} at {exact} (argument {args[i]})");
                    if (exact > 1e-30)
                    {
                        worstKernel = Math.Max(worstKernel, err / exact);
                    }
                }
            }

            float lmax = (float)((rng.NextDouble() - 0.5) * (trial % 3 == 0 ? 2e4 : 60));
            double temperature = trial % 5 == 0 ? 1 : 0.2 + (rng.NextDouble() * 5);
            double invT = 1 / temperature;
            for (int i = 0; i < 16; i++)
            {
                ls[i] = lmax - (float)(rng.NextDouble() * (i < 8 ? 110 : 20) * temperature);
            }

            var a = (System.Runtime.Intrinsics.Vector512.Create(ls) - System.Runtime.Intrinsics.Vector512.Create(lmax)) * (float)invT;
            var e = FastSelection.ExpMass(a);
            for (int i = 0; i < 16; i++)
            {
                double exact = Math.Exp((ls[i] * invT) - (lmax * invT)); // the reference's float64 arithmetic
                double bound = ((FastSelection.ArgumentRelativeError * Math.Abs(Math.Max(a[i], -88f))) + FastSelection.ExpRelativeError) * exact;
                Assert.True(Math.Abs(e[i] - exact) <= bound + 4e-38, $"mass error {Math.Abs(e[i] - exact)} at {exact}");
            }
        }

        Assert.True(worstKernel < FastSelection.ExpRelativeError / 2, $"worst relative error of the exp kernels {worstKernel}");
    }

    [Fact]
    public void Non_finite_rows_take_the_plain_path()
    {
        const int v = 200, mask = 0;
        var logits = Logits(v, 1, 3);
        logits[10] = float.NaN;
        var plain = new TokenSelector(v, mask, TokenSelectionOptions.Default);
        Assert.Equal(plain.SelectReference(logits, new DrawKey(1, 2, 3, 4)), plain.Select(logits, new DrawKey(1, 2, 3, 4)));
        logits[10] = float.PositiveInfinity;
        Assert.Equal(10, plain.Select(logits, new DrawKey(1, 2, 3, 4)));
        var nucleus = new TokenSelector(v, mask, new TokenSelectionOptions { TopP = 0.9 });
        logits[10] = float.NaN;
        Assert.Throws<InvalidOperationException>(() => nucleus.Select(logits, default));
    }

    [Fact]
    public void Noise_bound_covers_the_largest_uniform()
    {
        double u = CounterRandom.ToUnitOpen(ulong.MaxValue);
        Assert.True(u < 1);
        Assert.Equal(CounterRandom.LargestBelowOne, u);
        Assert.True(CounterRandom.ToUnitOpen(0) > 0);
        Assert.InRange(FastSelection.MaxNoise, 36, 38);
        Assert.True(-Math.Log(-Math.Log(u)) < FastSelection.MaxNoise);
    }
}
