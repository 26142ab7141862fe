namespace EsoLM.Randomness;

/// <summary>
/// An exact binomial sampler driven by one uniform: inversion of the CDF, enumerating outcomes outward from the mode
/// (mode, mode−1, mode+1, …) and subtracting their probabilities from u. Any fixed enumeration order gives an exact
/// sample; starting at the mode needs O(√(n p q)) probabilities, so it is fast for large n too. The mode's probability
/// comes from log-factorials (exact table below 256, Stirling series above, relative error ≈ 1e-15·n).
/// </summary>
internal static class Binomial
{
    private static readonly double[] LogFactorialTable = BuildTable();

    /// <summary>Draws X ~ Binomial(<paramref name="n"/>, <paramref name="p"/>) from the uniform <paramref name="u"/> ∈ (0, 1).</summary>
    public static int Sample(int n, double p, double u)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (!(p >= 0 && p <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "The success probability must be in [0, 1].");
        }

        if (!(u > 0 && u < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(u), u, "The uniform must be in the open interval (0, 1).");
        }

        if (n == 0 || p == 0)
        {
            return 0;
        }

        if (p == 1)
        {
            return n;
        }

        // Work with p ≤ 1/2 (fewer terms, no underflow of q^n for large n·p); reflect at the end.
        bool flip = p > 0.5;
        double pp = flip ? 1 - p : p, q = 1 - pp;
        int mode = (int)Math.Min(n, Math.Floor((n + 1) * pp));
        double logPmf = LogChoose(n, mode) + (mode * Math.Log(pp)) + ((n - mode) * Log1P(-pp));
        double pMode = Math.Exp(logPmf);
        double ratio = pp / q;

        double rest = u - pMode;
        int result = mode;
        if (rest > 0)
        {
            int down = mode - 1, up = mode + 1;
            double pDown = down >= 0 ? pMode * (down + 1) / ((double)(n - down) * ratio) : 0;
            double pUp = up <= n ? pMode * (n - mode) / (double)up * ratio : 0;
            result = -1;
            while (down >= 0 || up <= n)
            {
                if (down >= 0)
                {
                    rest -= pDown;
                    if (rest <= 0)
                    {
                        result = down;
                        break;
                    }

                    pDown = down > 0 ? pDown * down / ((double)(n - down + 1) * ratio) : 0;
                    down--;
                }

                if (up <= n)
                {
                    rest -= pUp;
                    if (rest <= 0)
                    {
                        result = up;
                        break;
                    }

                    pUp = up < n ? pUp * (n - up) / (double)(up + 1) * ratio : 0;
                    up++;
                }

                if (pDown == 0 && pUp == 0)
                {
                    break;
                }
            }

            // Rounding left u above the total mass (by ~1e-15): the outcome is the mode's neighbourhood; take the mode.
            if (result < 0)
            {
                result = mode;
            }
        }

        return flip ? n - result : result;
    }

    /// <summary>log(n!) (exact summation below 256, Stirling series above).</summary>
    public static double LogFactorial(int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (n < LogFactorialTable.Length)
        {
            return LogFactorialTable[n];
        }

        double x = n + 1.0;
        double inv = 1 / x, inv2 = inv * inv;
        return ((x - 0.5) * Math.Log(x)) - x + (0.5 * Math.Log(2 * Math.PI))
            + (inv * ((1.0 / 12) - (inv2 * ((1.0 / 360) - (inv2 * ((1.0 / 1260) - (inv2 / 1680)))))));
    }

    /// <summary>log(1 + x), accurate for small |x|.</summary>
    private static double Log1P(double x) =>
        Math.Abs(x) < 1e-4 ? x * (1 - (x * ((1.0 / 2) - (x * ((1.0 / 3) - (x / 4)))))) : Math.Log(1 + x);

    private static double LogChoose(int n, int k) => LogFactorial(n) - LogFactorial(k) - LogFactorial(n - k);

    private static double[] BuildTable()
    {
        var t = new double[256];
        for (int i = 2; i < t.Length; i++)
        {
            t[i] = t[i - 1] + Math.Log(i);
        }

        return t;
    }
}
