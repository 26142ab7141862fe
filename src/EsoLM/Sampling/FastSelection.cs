using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using EsoLM.Randomness;

namespace EsoLM.Sampling;

/// <summary>
/// The fast path of <see cref="TokenSelector"/> for the default counter-based noise. It returns exactly the token of
/// <see cref="TokenSelector.SelectReference"/> (or −1 to ask for that path) while touching far less of the vocabulary:
/// <list type="bullet">
/// <item><b>Lazy Gumbel noise.</b> The noise g = −log(−log u) of an entry is bounded by G_max ≈ 36.7 (u ≤ 1 − 2⁻⁵³, a 53-bit open
/// uniform), so an entry with x &lt; best − G_max cannot win and its draw is never made. For the others only the cheap hash u
/// is computed: since g is increasing in u, u &lt; U[c] = exp(−exp(−c)) (lowered by a margin) proves g &lt; c ≤ best − x, so the
/// two logarithms are only taken for the few entries that can still beat the running best. Those are evaluated in batches
/// through the same vectorised <c>TensorPrimitives.Log</c> calls as
/// <see cref="CounterGumbelNoise.Fill"/> (padded to whole vectors), so the values are bit-identical. Ties keep the lowest id,
/// like the reference's strictly-greater scan; skipped entries are provably strictly below the winner.</item>
/// <item><b>Nucleus without sorting the vocabulary.</b> Softmax masses are histogrammed by logit (the bin of an entry is a
/// monotone function of its logit, so bins are contiguous runs of the descending order); only the bin where the cumulative
/// mass crosses p is sorted. The kept set is then "x &gt; x_b, or x = x_b and id ≤ i_b" for the last kept entry (x_b, i_b).
/// If the crossing is within 1e-9 of p (where the reference's own summation order could decide), −1 is returned and the
/// reference path runs.</item>
/// </list>
/// Non-finite or huge logits (|max| ≥ 1e6) also fall back. One instance per <see cref="TokenSelector"/> (not thread-safe).
/// </summary>
internal sealed partial class FastSelection
{
    /// <summary>Below this vocabulary size the reference path is used (its vector widths could differ from padded batches).</summary>
    public const int MinVocabulary = 64;

    private const int Bins = 2048;
    private const int Chunk = 256;
    private const int Pad = 16;
    private const double Margin = 1e-6;
    private const int TableMax = 20;

    /// <summary>An upper bound of every Gumbel draw (the largest 53-bit open uniform), plus a margin.</summary>
    internal static readonly double MaxNoise = GumbelOf(CounterRandom.ToUnitOpen(ulong.MaxValue)) + 1e-3;

    /// <summary>U[c]: u &lt; U[c] implies −log(−log u) &lt; c − 1e-6 (c = 0..20).</summary>
    private static readonly double[] UTable = BuildTable();

    private readonly TokenSelector _owner;
    private readonly int _vocab;
    private readonly int _mask;
    private readonly TokenSelectionOptions _options;
    private readonly double[] _x;
    private readonly double[] _e;
    private readonly int[] _count = new int[Bins];
    private readonly double[] _mass = new double[Bins];
    private readonly int[] _cand = new int[Chunk];
    private readonly short[] _binOf;
    private readonly double[] _u = new double[Chunk + Pad];
    private (double Value, int Index)[] _bin = [];

    public FastSelection(TokenSelector owner, int vocab, int mask, TokenSelectionOptions options)
    {
        _owner = owner;
        _vocab = vocab;
        _mask = mask;
        _options = options;
        _x = new double[vocab];
        _e = options.TopP < 1 ? new double[vocab] : [];
        _binOf = options.TopP < 1 ? new short[vocab] : [];
    }

    /// <summary>x = (double)logits, exactly (Vector512 widening where accelerated).</summary>
    private static void Widen(ReadOnlySpan<float> logits, Span<double> x)
    {
        int v = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            ref float l0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(logits);
            ref double x0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
            for (; v + 16 <= logits.Length; v += 16)
            {
                var f = Vector512.LoadUnsafe(ref l0, (nuint)v);
                Vector512.WidenLower(f).StoreUnsafe(ref x0, (nuint)v);
                Vector512.WidenUpper(f).StoreUnsafe(ref x0, (nuint)(v + 8));
            }
        }

        for (; v < logits.Length; v++)
        {
            x[v] = logits[v];
        }
    }

    /// <summary>The smallest entry of x that is ≥ <paramref name="floor"/> (<paramref name="max"/> if none is smaller).</summary>
    private static double LowestAtLeast(ReadOnlySpan<double> x, double floor, double max)
    {
        int v = 0;
        double lo = max;
        if (Vector512.IsHardwareAccelerated)
        {
            var f = Vector512.Create(floor);
            var big = Vector512.Create(max);
            var acc = big;
            ref double x0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
            for (; v + 8 <= x.Length; v += 8)
            {
                var xv = Vector512.LoadUnsafe(ref x0, (nuint)v);
                acc = Vector512.Min(acc, Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(xv, f), xv, big));
            }

            for (int i = 0; i < 8; i++)
            {
                lo = Math.Min(lo, acc[i]);
            }
        }

        for (; v < x.Length; v++)
        {
            double xv = x[v];
            if (xv >= floor && xv < lo)
            {
                lo = xv;
            }
        }

        return lo;
    }

    /// <summary>The reference's noise formula, scalar (only for the bound).</summary>
    private static double GumbelOf(double u) => -Math.Log(-Math.Log(u));

    private static double[] BuildTable()
    {
        var t = new double[TableMax + 1];
        for (int c = 0; c <= TableMax; c++)
        {
            // Inverse of g(u) = −log(−log u) at c − margin, lowered by a relative 1e-12 against rounding of exp.
            t[c] = Math.Exp(-Math.Exp(-(c - Margin))) * (1 - 1e-12);
        }

        return t;
    }

    /// <summary>The float64 stage (the previous fast path): the chosen token, or −1 when the reference path must decide.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    internal int SelectDouble(ReadOnlySpan<float> logits, DrawKey key)
    {
        var x = _x.AsSpan();
        double invT = 1.0 / _options.Temperature;
        bool filtered = _options.TopK > 0 || _options.TopP < 1;
        Widen(logits, x);
        if (_options.Temperature != 1.0)
        {
            TensorPrimitives.Multiply(x, invT, x);
        }

        x[_mask] = filtered ? -1e6 : double.NegativeInfinity;
        if (_options.TopK > 0 && _options.TopK < x.Length)
        {
            double threshold = _owner.KthLargest(x, _options.TopK);
            for (int v = 0; v < x.Length; v++)
            {
                if (x[v] < threshold)
                {
                    x[v] = double.NegativeInfinity;
                }
            }
        }

        double max = TensorPrimitives.Max<double>(x);
        if (!(Math.Abs(max) < 1e5))
        {
            return -1; // NaN, ±∞ or huge logits (or nothing but the mask): the reference path decides (or throws).
        }

        int top = TensorPrimitives.IndexOfMax<double>(x);
        double xb = double.NegativeInfinity;
        int ib = int.MaxValue;
        ulong b = new CounterRandom(key.Seed, key.SequenceId).Base(DrawPurpose.Token, key.Step, key.Position);
        if (_options.TopP < 1)
        {
            // The winner of the unfiltered Gumbel-max is the winner of the filtered one whenever the nucleus keeps it (the
            // kept set is a subset of all entries). A Gumbel-max draw is a sample of the softmax, so it lies inside the
            // nucleus with probability ≈ p: one extra pass (its preceding mass) then decides, without any sort.
            int w = LazyArgmax(x, top, b, double.NegativeInfinity, int.MaxValue);
            if (w >= 0 && InNucleus(x, max, _options.TopP, w) == 1)
            {
                return w;
            }

            if (!NucleusBoundary(x, max, _options.TopP, out xb, out ib))
            {
                return -1;
            }
        }

        return LazyArgmax(x, top, b, xb, ib);
    }

    /// <summary>
    /// Whether the reference nucleus keeps entry <paramref name="w"/>: 1 when it surely does (its preceding mass in the
    /// descending (value, then id) order is below p), 0 when it surely does not, −1 when the mass is within 1e-9 of p.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private int InNucleus(ReadOnlySpan<double> x, double max, double p, int w)
    {
        var e = _e.AsSpan(0, x.Length);
        TensorPrimitives.Subtract(x, max, e);
        TensorPrimitives.Exp(e, e);
        double xw = x[w];
        int v = 0;
        double total = 0, before = 0;
        ref double x0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref double e0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(e);
        if (Vector512.IsHardwareAccelerated)
        {
            var wv = Vector512.Create(xw);
            var lanes = Vector512.Create(0L, 1, 2, 3, 4, 5, 6, 7);
            var wi = Vector512.Create((long)w);
            Vector512<double> t = default, a = default;
            for (; v + 8 <= x.Length; v += 8)
            {
                var xv = Vector512.LoadUnsafe(ref x0, (nuint)v);
                var ev = Vector512.LoadUnsafe(ref e0, (nuint)v);
                var ahead = Vector512.GreaterThan(xv, wv)
                    | (Vector512.Equals(xv, wv) & Vector512.LessThan(lanes + Vector512.Create((long)v), wi).AsDouble());
                t += ev;
                a += ev & ahead;
            }

            total = Vector512.Sum(t);
            before = Vector512.Sum(a);
        }

        for (; v < x.Length; v++)
        {
            double ev = e[v];
            total += ev;
            if (x[v] > xw || (x[v] == xw && v < w))
            {
                before += ev;
            }
        }

        if (before == 0)
        {
            return 1; // the first entry of the order is always kept
        }

        double margin = 1e-9 * total;
        double target = p * total;
        return before < target - margin ? 1 : before > target + margin ? 0 : -1;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private int LazyArgmax(ReadOnlySpan<double> x, int top, ulong b, double xb, int ib)
    {
        double best = double.NegativeInfinity;
        int bestIndex = -1;
        double xt = x[top];
        if (top != _mask && xt >= xb && (xt != xb || top <= ib))
        {
            // Seed the running best with the largest logit (usually close to the winner).
            _cand[0] = top;
            _u[0] = CounterRandom.ToUnitOpen(CounterRandom.At(b, top));
            Evaluate(x, 1, ref best, ref bestIndex);
        }

        var table = UTable;
        int mask = _mask;
        bool vector = Vector512.IsHardwareAccelerated;
        for (int start = 0; start < x.Length; start += Chunk)
        {
            int end = Math.Min(x.Length, start + Chunk);
            double cut = best - MaxNoise;
            var chunk = x[start..end];
            double chunkMax = TensorPrimitives.Max(chunk);
            if (!(chunkMax >= cut))
            {
                continue; // nothing here can beat the best, whatever its noise: no draw is made.
            }

            // Any entry of the chunk with u below this cannot win (its noise is below best − chunkMax ≤ best − x).
            double dMin = best - chunkMax;
            double uChunk = dMin >= 0 ? table[dMin >= TableMax ? TableMax : (int)dMin] : 0;
            int n = 0;
            int v = start;
            if (vector)
            {
                var baseHash = Vector512.Create(b);
                var golden = Vector512.Create(0x9E3779B97F4A7C15UL);
                var lanes = Vector512.Create(1UL, 2, 3, 4, 5, 6, 7, 8);
                var threshold = Vector512.Create(uChunk);
                for (; v + 8 <= end; v += 8)
                {
                    var h = baseHash + ((lanes + Vector512.Create((ulong)v)) * golden);
                    h = (h ^ Vector512.ShiftRightLogical(h, 30)) * Vector512.Create(0xBF58476D1CE4E5B9UL);
                    h = (h ^ Vector512.ShiftRightLogical(h, 27)) * Vector512.Create(0x94D049BB133111EBUL);
                    h ^= Vector512.ShiftRightLogical(h, 31);
                    var u = (Vector512.ConvertToDouble(Vector512.ShiftRightLogical(h, 11)) + Vector512.Create(0.5)) * Vector512.Create(1.0 / (1UL << 53));
                    ulong pass = Vector512.GreaterThanOrEqual(u, threshold).ExtractMostSignificantBits();
                    while (pass != 0)
                    {
                        int lane = System.Numerics.BitOperations.TrailingZeroCount(pass);
                        pass &= pass - 1;
                        Consider(x, v + lane, b, best, cut, xb, ib, mask, table, ref n);
                    }
                }
            }

            for (; v < end; v++)
            {
                Consider(x, v, b, best, cut, xb, ib, mask, table, ref n);
            }

            if (n > 0)
            {
                Evaluate(x, n, ref best, ref bestIndex);
            }
        }

        return bestIndex;
    }

    /// <summary>Adds entry v to the candidates unless it provably cannot beat <paramref name="best"/> or is filtered out.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private void Consider(ReadOnlySpan<double> x, int v, ulong b, double best, double cut, double xb, int ib, int mask, double[] table, ref int n)
    {
        double xv = x[v];
        if (!(xv >= cut) || v == mask || xv < xb || (xv == xb && v > ib))
        {
            return;
        }

        double u = CounterRandom.ToUnitOpen(CounterRandom.At(b, v));
        double d = best - xv;
        if (d >= 0 && u < table[d >= TableMax ? TableMax : (int)d])
        {
            return; // its noise is < floor(d) − margin: x + g < best.
        }

        _cand[n] = v;
        _u[n] = u;
        n++;
    }

    /// <summary>Computes the noise of the n candidates exactly as <see cref="CounterGumbelNoise.Fill"/> does and updates the best.</summary>
    private void Evaluate(ReadOnlySpan<double> x, int n, ref double best, ref int bestIndex)
    {
        int m = Math.Max(n, Pad);
        var u = _u.AsSpan(0, m);
        u[n..].Fill(0.5);
        TensorPrimitives.Log(u, u);
        TensorPrimitives.Negate(u, u);
        TensorPrimitives.Log(u, u);
        TensorPrimitives.Negate(u, u);
        for (int i = 0; i < n; i++)
        {
            int v = _cand[i];
            double s = x[v] + u[i];
            if (s > best || (s == best && v < bestIndex))
            {
                best = s;
                bestIndex = v;
            }
        }
    }

    /// <summary>
    /// Finds the last entry (x_b, i_b) the reference nucleus keeps, in descending (value, then ascending id) order; false when
    /// the decision is too close to call without the reference's exact summation order.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private bool NucleusBoundary(ReadOnlySpan<double> x, double max, double p, out double xb, out int ib)
    {
        xb = double.NegativeInfinity;
        ib = int.MaxValue;
        var e = _e.AsSpan();
        TensorPrimitives.Subtract(x, max, e);
        TensorPrimitives.Exp(e, e);
        double total = TensorPrimitives.Sum<double>(e);
        double target = p * total;

        // Bins over [lo, max]; entries below max − 40 (mass < 4e-18 each) share the tail.
        double floor = max - 40;
        double lo = LowestAtLeast(x, floor, max);

        double scale = max > lo ? Bins / (max - lo) : 0;
        var count = _count.AsSpan();
        var mass = _mass.AsSpan();
        count.Clear();
        mass.Clear();
        var bins = _binOf.AsSpan(0, x.Length);
        for (int v = 0; v < x.Length; v++)
        {
            double xv = x[v];
            int bin = xv >= lo ? Math.Min(Bins - 1, (int)((max - xv) * scale)) : Bins;
            bins[v] = (short)bin;
            if (bin < Bins)
            {
                count[bin]++;
                mass[bin] += e[v];
            }
        }

        double cum = 0;
        int before = 0, crossing = -1;
        for (int bin = 0; bin < Bins; bin++)
        {
            if (cum + mass[bin] > target)
            {
                crossing = bin;
                break;
            }

            cum += mass[bin];
            before += count[bin];
        }

        if (crossing < 0)
        {
            return false; // the boundary lies in the far tail (p ≈ 1): let the reference decide.
        }

        int k = count[crossing];
        if (_bin.Length < k)
        {
            _bin = new (double, int)[Math.Max(k, 64)];
        }

        var entries = _bin.AsSpan(0, k);
        int c = 0;
        short target16 = (short)crossing;
        int start = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var want = Vector512.Create(target16);
            ref short b0 = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(bins);
            for (; start + 32 <= bins.Length; start += 32)
            {
                ulong hits = Vector512.Equals(Vector512.LoadUnsafe(ref b0, (nuint)start), want).ExtractMostSignificantBits();
                while (hits != 0)
                {
                    int v = start + System.Numerics.BitOperations.TrailingZeroCount(hits);
                    hits &= hits - 1;
                    entries[c++] = (x[v], v);
                }
            }
        }

        for (int v = start; v < bins.Length; v++)
        {
            if (bins[v] == target16)
            {
                entries[c++] = (x[v], v);
            }
        }

        entries.Sort(static (a, b2) => a.Value != b2.Value ? b2.Value.CompareTo(a.Value) : a.Index.CompareTo(b2.Index));
        double cumBefore = cum;
        int last = -1;
        double lastBefore = 0;
        for (int i = 0; i < k; i++)
        {
            if (before + i > 0 && cumBefore > target)
            {
                break;
            }

            last = i;
            lastBefore = cumBefore;
            cumBefore += e[entries[i].Index];
        }

        if (last < 0)
        {
            return false;
        }

        double after = lastBefore + e[entries[last].Index];
        double tolerance = 1e-9 * total;
        if (target - lastBefore < tolerance || after - target < tolerance)
        {
            return false; // too close to p: the reference's summation order decides.
        }

        xb = entries[last].Value;
        ib = entries[last].Index;
        return true;
    }
}
