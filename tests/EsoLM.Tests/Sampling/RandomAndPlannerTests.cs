using System.Text.Json;
using EsoLM.Sampling;
using EsoLM.Schedules;
using EsoLM.Tests.Support;
using EsoLM.Diagnostics;

namespace EsoLM.Tests.Sampling;

public sealed class RandomAndPlannerTests
{
    [Fact]
    public void Counter_uniforms_are_roughly_uniform_and_keys_are_independent()
    {
        var rng = new CounterRandom(42, 7);
        const int n = 200_000;
        var bins = new int[20];
        double sum = 0, lag = 0, prev = 0.5;
        for (int i = 0; i < n; i++)
        {
            double u = rng.NextDouble(DrawPurpose.Token, 3, i);
            Assert.InRange(u, double.Epsilon, 1 - 1e-17);
            bins[(int)(u * 20)]++;
            sum += u;
            lag += (u - 0.5) * (prev - 0.5);
            prev = u;
        }

        Assert.InRange(sum / n, 0.5 - 0.005, 0.5 + 0.005);
        Assert.InRange(lag / n, -0.002, 0.002);
        double chi = bins.Sum(b => Math.Pow(b - (n / 20.0), 2) / (n / 20.0));
        Assert.InRange(chi, 0, 45); // 19 dof, p ≈ 1e-3

        // Neighbouring keys (seed, sequence, purpose, step, position, index) give uncorrelated draws.
        double Corr(Func<int, double> a, Func<int, double> b)
        {
            double s = 0;
            for (int i = 0; i < 20_000; i++)
            {
                s += (a(i) - 0.5) * (b(i) - 0.5);
            }

            return s / 20_000 * 12;
        }

        var other = new CounterRandom(43, 7);
        var otherSeq = new CounterRandom(42, 8);
        Assert.InRange(Corr(i => rng.NextDouble(DrawPurpose.Token, 0, i), i => other.NextDouble(DrawPurpose.Token, 0, i)), -0.05, 0.05);
        Assert.InRange(Corr(i => rng.NextDouble(DrawPurpose.Token, 0, i), i => otherSeq.NextDouble(DrawPurpose.Token, 0, i)), -0.05, 0.05);
        Assert.InRange(Corr(i => rng.NextDouble(DrawPurpose.Token, 0, i), i => rng.NextDouble(DrawPurpose.Token, 1, i)), -0.05, 0.05);
        Assert.InRange(Corr(i => rng.NextDouble(DrawPurpose.Token, 0, i), i => rng.NextDouble(DrawPurpose.Order, 0, i)), -0.05, 0.05);
        Assert.InRange(Corr(i => rng.NextDouble(DrawPurpose.Token, 0, i), i => rng.NextDouble(DrawPurpose.Token, 0, i + 1)), -0.05, 0.05);
        Assert.InRange(Corr(i => rng.NextDouble(DrawPurpose.Token, 0, 0, i), i => rng.NextDouble(DrawPurpose.Token, 0, 0, i + 1)), -0.05, 0.05);
        Assert.Equal(rng.NextDouble(DrawPurpose.Plan, 1, 2, 3), new CounterRandom(42, 7).NextDouble(DrawPurpose.Plan, 1, 2, 3));
        for (int i = 0; i < 1000; i++)
        {
            Assert.InRange(rng.NextInt32(DrawPurpose.Order, 0, i, 0, 7), 0, 6);
        }
    }

    [Theory]
    [InlineData(10, 0.3)]
    [InlineData(1000, 0.01)]
    [InlineData(100_000, 0.37)]
    [InlineData(5_000_000, 0.8)]
    [InlineData(40, 0.999)]
    public void Binomial_matches_mean_and_variance(int n, double p)
    {
        var rng = new CounterRandom(5);
        const int draws = 4000;
        double sum = 0, sq = 0;
        for (int i = 0; i < draws; i++)
        {
            int x = Binomial.Sample(n, p, rng.NextDouble(DrawPurpose.Plan, 0, i));
            Assert.InRange(x, 0, n);
            sum += x;
            sq += (double)x * x;
        }

        double mean = sum / draws, variance = (sq / draws) - (mean * mean);
        double mu = n * p, sigma2 = n * p * (1 - p);
        Assert.InRange(mean, mu - (5 * Math.Sqrt(sigma2 / draws)), mu + (5 * Math.Sqrt(sigma2 / draws)));
        Assert.InRange(variance, sigma2 * 0.85, sigma2 * 1.15);
    }

    [Fact]
    public void Binomial_small_case_matches_exact_pmf()
    {
        var rng = new CounterRandom(9);
        const int n = 6, draws = 60_000;
        const double p = 0.3;
        var counts = new int[n + 1];
        for (int i = 0; i < draws; i++)
        {
            counts[Binomial.Sample(n, p, rng.NextDouble(DrawPurpose.Plan, 1, i))]++;
        }

        for (int k = 0; k <= n; k++)
        {
            double pmf = Math.Exp(Binomial.LogFactorial(n) - Binomial.LogFactorial(k) - Binomial.LogFactorial(n - k)) * Math.Pow(p, k) * Math.Pow(1 - p, n - k);
            Assert.InRange(counts[k] / (double)draws, pmf - 0.01, pmf + 0.01);
        }

        Assert.Equal(0, Binomial.Sample(10, 0, 0.5));
        Assert.Equal(10, Binomial.Sample(10, 1, 0.5));
        Assert.Throws<ArgumentOutOfRangeException>("p", () => Binomial.Sample(3, 1.5, 0.5));
        Assert.Throws<ArgumentOutOfRangeException>("u", () => Binomial.Sample(3, 0.5, 0));
    }

    [Fact]
    public void Unmask_probabilities_match_the_reference_schedule()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(SharedData.Reference, "sampling_utils.json")));
        int checkedRuns = 0;
        foreach (var run in doc.RootElement.GetProperty("schedules").EnumerateArray())
        {
            double alpha = run.GetProperty("alpha_eval").GetDouble();
            int steps = run.GetProperty("num_steps").GetInt32();
            var p = StepPlanner.UnmaskProbabilities(steps, alpha, LogLinearSchedule.Default);
            int i = 0;
            foreach (var step in run.GetProperty("steps").EnumerateArray())
            {
                Assert.Equal(step.GetProperty("t").GetDouble(), StepPlanner.TimeAt(i, steps), 12);
                Assert.Equal(step.GetProperty("p_unmask").GetDouble(), p[i], 1e-9);
                i++;
            }

            Assert.Equal(steps, i);
            checkedRuns++;
        }

        Assert.Equal(2, checkedRuns);
    }

    [Theory]
    [InlineData(12, 8, 1.0)]
    [InlineData(12, 8, 0.5)]
    [InlineData(64, 16, 0.25)]
    [InlineData(64, 64, 0.9)]
    [InlineData(200, 3, 0.7)]
    [InlineData(1, 1, 1.0)]
    public void Plans_cover_the_sequence_with_non_empty_steps(int length, int steps, double alpha)
    {
        for (ulong seed = 0; seed < 30; seed++)
        {
            var plan = StepPlanner.Plan(length, steps, alpha, LogLinearSchedule.Default, seed);
            Assert.Equal(length, plan.Steps.Sum());
            Assert.All(plan.Steps, k => Assert.True(k >= 1));
            Assert.True(plan.DiffusionSteps <= steps);
            Assert.Equal(plan.DiffusionTokens, plan.Steps.Take(plan.DiffusionSteps).Sum());
            Assert.All(plan.Steps.Skip(plan.DiffusionSteps), k => Assert.Equal(1, k));
            Assert.Equal(length - plan.DiffusionTokens, plan.SequentialSteps);
            if (alpha == 1)
            {
                Assert.Equal(0, plan.SequentialSteps);
            }

            Assert.Equal(plan.Steps, StepPlanner.Plan(length, steps, alpha, LogLinearSchedule.Default, seed).Steps);
        }
    }

    [Fact]
    public void Alpha_zero_is_pure_autoregression()
    {
        var plan = StepPlanner.Plan(20, 10, 0, LogLinearSchedule.Default, 3);
        Assert.Equal(0, plan.DiffusionTokens);
        Assert.Equal(20, plan.StepCount);
        Assert.All(plan.Steps, k => Assert.Equal(1, k));
    }

    [Theory]
    [InlineData(0.5, 16)]
    [InlineData(0.125, 8)]
    [InlineData(0.9, 32)]
    public void Diffusion_token_count_is_binomial_in_distribution(double alpha, int steps)
    {
        const int length = 100, seeds = 600;
        double sum = 0, sq = 0;
        for (ulong seed = 0; seed < seeds; seed++)
        {
            int d = StepPlanner.Plan(length, steps, alpha, LogLinearSchedule.Default, seed).DiffusionTokens;
            sum += d;
            sq += d * d;
        }

        // The thinning telescopes: D ~ Binomial(L, α_eval·(1 − ε·…)) ≈ Binomial(L, α_eval) (α at t = 0 is α_eval exactly).
        double mean = sum / seeds, variance = (sq / seeds) - (mean * mean);
        double mu = length * alpha, sigma2 = length * alpha * (1 - alpha);
        Assert.InRange(mean, mu - (4 * Math.Sqrt(sigma2 / seeds)), mu + (4 * Math.Sqrt(sigma2 / seeds)));
        Assert.InRange(variance, sigma2 * 0.75, sigma2 * 1.3);
    }

    [Fact]
    public void Orders_are_permutations_with_a_sorted_tail_and_uniform_heads()
    {
        const int n = 6;
        var firstCounts = new int[n];
        var order = new int[n];
        for (long seq = 0; seq < 6000; seq++)
        {
            StepPlanner.GenerationOrder(11, seq, 3, order);
            Assert.Equal(Enumerable.Range(0, n), order.Order());
            Assert.True(order[3] < order[4] && order[4] < order[5]);
            firstCounts[order[0]]++;
        }

        Assert.All(firstCounts, c => Assert.InRange(c, 850, 1150));
        var again = new int[n];
        StepPlanner.GenerationOrder(11, 5, 3, again);
        StepPlanner.GenerationOrder(11, 5, 3, order);
        Assert.Equal(order, again);
    }

    [Fact]
    public void Reverse_indices_match_the_reference()
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(SharedData.Reference, "sampling_utils.json")));
        var r = doc.RootElement.GetProperty("top_p").GetProperty("reverse_indices");
        var indices = ReferenceTensor.Get(r, "indices");
        var expected = ReferenceTensor.Get(r, "reverse").ToInt32s();
        int len = indices.Shape[1];
        var ids = indices.ToInt32s();
        for (int b = 0; b < indices.Shape[0]; b++)
        {
            var rev = new int[len];
            StepPlanner.ReverseIndices(ids.AsSpan(b * len, len), rev);
            Assert.Equal(expected.AsSpan(b * len, len).ToArray(), rev);
        }
    }

    [Fact]
    public void Planner_rejects_bad_arguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>("steps", () => StepPlanner.Plan(10, 0, 0.5, LogLinearSchedule.Default, 1));
        Assert.Throws<ArgumentOutOfRangeException>("alphaEval", () => StepPlanner.Plan(10, 4, 1.5, LogLinearSchedule.Default, 1));
        Assert.Throws<ArgumentOutOfRangeException>("alphaEval", () => StepPlanner.Plan(10, 4, -0.1, LogLinearSchedule.Default, 1));
        Assert.Throws<ArgumentOutOfRangeException>("alphaEval", () => StepPlanner.Plan(10, 4, double.NaN, LogLinearSchedule.Default, 1));
        Assert.Throws<ArgumentNullException>("schedule", () => StepPlanner.Plan(10, 4, 0.5, null!, 1));
        Assert.Throws<ArgumentOutOfRangeException>("steps", () => new StepPlan([1, 0], 1));
        Assert.Throws<ArgumentOutOfRangeException>("diffusionTokens", () => new StepPlan([2, 2], 3));
    }
}
