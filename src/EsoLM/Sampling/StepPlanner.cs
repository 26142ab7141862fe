using EsoLM.Randomness;
using EsoLM.Schedules;

namespace EsoLM.Sampling;

/// <summary>
/// The "optimized sampling schedule" of Eso-LMs (spec §4.1) and the per-sequence generation order. Both are pure
/// functions of their arguments and counter-based draws (<see cref="CounterRandom"/>): the plan of a seed is the same in
/// every batch and on every thread count.
/// </summary>
internal static class StepPlanner
{
    /// <summary>
    /// The probability that a still-masked token is unmasked at step i of T (t = linspace(1, 1/T, T)):
    /// p = (α_s − α_t)/(1 − α_t), α from <paramref name="schedule"/> with α0 = <paramref name="alphaEval"/>, s = t − 1/T.
    /// </summary>
    public static double[] UnmaskProbabilities(int steps, double alphaEval, INoiseSchedule schedule)
    {
        var p = new double[CheckSteps(steps)];
        UnmaskProbabilities(alphaEval, schedule, p);
        return p;
    }

    /// <summary>Span form of <see cref="UnmaskProbabilities(int, double, INoiseSchedule)"/>: fills one probability per step.</summary>
    public static void UnmaskProbabilities(double alphaEval, INoiseSchedule schedule, Span<double> probabilities)
    {
        ArgumentNullException.ThrowIfNull(schedule);
        CheckAlpha(alphaEval);
        int steps = CheckSteps(probabilities.Length);
        double dt = 1.0 / steps;
        for (int i = 0; i < steps; i++)
        {
            double t = TimeAt(i, steps);
            double at = schedule.Alpha(t, alphaEval), ats = schedule.Alpha(t - dt, alphaEval);
            double p = 1 - at <= 0 ? 1 : (ats - at) / (1 - at);
            probabilities[i] = Math.Clamp(p, 0, 1);
        }
    }

    /// <summary>
    /// Draws the step sizes for generating <paramref name="length"/> tokens in at most <paramref name="steps"/>
    /// diffusion steps: n_i ~ Binomial(remaining, p_i); empty steps are skipped; if α_eval = 1 the remainder is one last
    /// step; the tokens left after the diffusion phase are decoded one per step (sequential phase).
    /// The draws are keyed by (<paramref name="seed"/>, step) only, so every sequence that shares the seed shares the plan.
    /// </summary>
    public static StepPlan Plan(int length, int steps, double alphaEval, INoiseSchedule schedule, ulong seed) =>
        Plan(length, steps, alphaEval, schedule, seed, CancellationToken.None);

    /// <summary>
    /// <see cref="Plan(int, int, double, INoiseSchedule, ulong)"/> that checks <paramref name="cancellationToken"/> while it
    /// walks the steps (a budget of millions of steps takes a while).
    /// </summary>
    public static StepPlan Plan(int length, int steps, double alphaEval, INoiseSchedule schedule, ulong seed, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        CheckSteps(steps);
        CheckAlpha(alphaEval);
        ArgumentNullException.ThrowIfNull(schedule);
        var rng = new CounterRandom(seed);
        var ks = new List<int>(Math.Min(length, steps) + 1);
        int remaining = length;
        double dt = 1.0 / steps;
        for (int i = 0; i < steps && remaining > 0; i++)
        {
            if ((i & 0xFFF) == 0xFFF)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            double t = TimeAt(i, steps);
            double at = schedule.Alpha(t, alphaEval), ats = schedule.Alpha(t - dt, alphaEval);
            double p = 1 - at <= 0 ? 1 : Math.Clamp((ats - at) / (1 - at), 0, 1);
            int n = Binomial.Sample(remaining, p, rng.NextDouble(DrawPurpose.Plan, i, length));
            if (n > 0)
            {
                ks.Add(n);
                remaining -= n;
            }
        }

        if (remaining > 0 && alphaEval == 1)
        {
            ks.Add(remaining);
            remaining = 0;
        }

        int diffusion = length - remaining;
        for (int i = 0; i < remaining; i++)
        {
            ks.Add(1);
        }

        return new StepPlan(ks, diffusion);
    }

    /// <summary>
    /// The generation order of one sequence: a uniformly random permutation of 0..n−1 (Fisher–Yates on counter-based
    /// draws keyed by (<paramref name="seed"/>, <paramref name="sequenceId"/>)), with the tail [<paramref name="diffusionTokens"/>..)
    /// sorted ascending so the sequential phase runs left to right. <paramref name="order"/>[slot] = index decoded at that slot.
    /// </summary>
    public static void GenerationOrder(ulong seed, long sequenceId, int diffusionTokens, Span<int> order)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(diffusionTokens);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(diffusionTokens, order.Length);
        var rng = new CounterRandom(seed, sequenceId);
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.NextInt32(DrawPurpose.Order, 0, i, order.Length, i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        order[diffusionTokens..].Sort();
    }

    /// <summary>The inverse permutation: <paramref name="reverse"/>[<paramref name="indices"/>[i]] = i (reference <c>get_reverse_indices</c>).</summary>
    public static void ReverseIndices(ReadOnlySpan<int> indices, Span<int> reverse)
    {
        if (reverse.Length < indices.Length)
        {
            throw new ArgumentException($"reverse holds {reverse.Length} entries; {indices.Length} needed.", nameof(reverse));
        }

        for (int i = 0; i < indices.Length; i++)
        {
            int v = indices[i];
            if ((uint)v >= (uint)indices.Length)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), v, $"Entry {i} is outside [0, {indices.Length}).");
            }

            reverse[v] = i;
        }
    }

    /// <summary>t_i of numpy's linspace(1, 1/T, T).</summary>
    internal static double TimeAt(int i, int steps) => steps == 1 ? 1.0 : 1.0 + (i * (((1.0 / steps) - 1.0) / (steps - 1)));

    internal static int CheckSteps(int steps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        return steps;
    }

    internal static void CheckAlpha(double alphaEval)
    {
        if (!(alphaEval >= 0 && alphaEval <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alphaEval), alphaEval, "alpha_eval must be in [0, 1] (0 = pure AR, 1 = pure diffusion).");
        }
    }
}
