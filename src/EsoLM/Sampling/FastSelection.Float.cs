using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using EsoLM.Randomness;

namespace EsoLM.Sampling;

/// <summary>
/// The float32 first stage of the fast path: it reads the row as it comes from the model (no widening to float64) and
/// decides most rows with certified bounds; rows it cannot certify go to the float64 stage (<see cref="SelectDouble"/>),
/// which in turn may hand them to the reference path.
/// <list type="bullet">
/// <item><b>Order.</b> x = (double)l / T is strictly increasing in the float logit l (T ∈ [1e-10, 1e10]), so maxima, top-k
/// thresholds and the nucleus order are found on the floats; only the few candidates that can still win are widened, each
/// exactly as the reference widens it.</item>
/// <item><b>Lazy Gumbel noise in the hash domain.</b> An entry's uniform u is a function of its 64-bit hash h, increasing in
/// h >> 11; "u below the chunk's bound" is one unsigned 64-bit compare of h against a precomputed integer (lowered by two
/// steps of 2⁻⁵³ against rounding), so the bulk screening is hash + compare, eight lanes at a time. Survivors get the exact
/// double u check and then the reference's own vectorised logarithms (bit-identical noise).</item>
/// <item><b>Nucleus membership with a proven margin.</b> Softmax masses are computed in float32
/// (e = exp((l − l_max)·(1/T)) by <see cref="Vector512.Exp(Vector512{float})"/>) and summed in float64. Each e has a
/// relative error below <see cref="MassRelativeError"/> (argument rounding ≤ 4 ulp of |a| ≤ 104 plus the exp error, both
/// checked by tests) or an absolute error below 1e-37 when tiny; the decision "the winner's preceding mass is below p" is
/// taken only when it clears p by <see cref="MassMargin"/> of the total, far above both errors and the reference's own
/// float64 rounding. Anything closer is handed to the float64 stage.</item>
/// </list>
/// </summary>
internal sealed partial class FastSelection
{
    /// <summary>A bound on the relative error of one float32 softmax mass against the reference's float64 value.</summary>
    internal const double MassRelativeError = 1e-4;

    /// <summary>A nucleus decision is taken in float32 only when it clears p by this fraction of the total mass.</summary>
    internal const double MassMargin = 4 * MassRelativeError;

    private const int FloatChunk = 128;

    private float[] _heapF = [];
    private float[] _chunkMax = [];

    /// <summary>Rows decided by the float32 stage since creation (diagnostics and tests).</summary>
    internal long FloatDecided { get; private set; }

    /// <summary>Rows the float32 stage handed to the float64 stage since creation (diagnostics and tests).</summary>
    internal long FloatDeferred { get; private set; }

    /// <summary>The chosen token, or −1 when the reference path must decide.</summary>
    public int Select(ReadOnlySpan<float> logits, DrawKey key)
    {
        int token = SelectFloat(logits, key);
        if (token >= 0)
        {
            FloatDecided++;
            return token;
        }

        FloatDeferred++;
        return SelectDouble(logits, key);
    }

    /// <summary>The float32 stage: the chosen token, or −1 when it cannot certify the choice.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal int SelectFloat(ReadOnlySpan<float> logits, DrawKey key)
    {
        double invT = 1.0 / _options.Temperature;
        if (!Vector512.IsHardwareAccelerated || !(invT >= 1e-10 && invT <= 1e10))
        {
            return -1;
        }

        int mask = _mask;
        int n = logits.Length;

        // Per-chunk maxima (for the lazy noise) and the largest logit outside the mask id (NaN anywhere → the float64 stage).
        int top = ChunkMaxima(logits, mask, out float lmax);
        if (top < 0)
        {
            return -1;
        }

        double xmax = lmax * invT;
        if (!(Math.Abs(xmax) < 1e5))
        {
            return -1; // ±∞, huge, or every entry −∞.
        }

        bool unit = _options.Temperature == 1.0;

        // Top-k: the reference keeps x ≥ the k-th largest x of the row with the mask at −1e6; with the k-th largest float
        // y outside the mask and y / T > −1e6 that threshold is y / T, so the kept set is l ≥ y.
        float lb = float.NegativeInfinity;
        int ib = int.MaxValue;
        int k = _options.TopK;
        if (k > 0 && k < n)
        {
            lb = KthLargestFloat(logits, mask, k);
            if (!(lb * invT > -1e6))
            {
                return -1;
            }
        }

        ulong b = new CounterRandom(key.Seed, key.SequenceId).Base(DrawPurpose.Token, key.Step, key.Position);
        int w = LazyArgmaxFloat(logits, top, b, invT, unit, lb, ib);
        if (w < 0 || _options.TopP >= 1)
        {
            return w;
        }

        // The winner over the top-k set wins the nucleus-filtered row whenever the nucleus keeps it.
        return InNucleusFloat(logits, lmax, (float)invT, _options.TopP, lb, w) == 1 ? w : -1;
    }

    /// <summary>
    /// Fills the per-chunk maxima (every entry, the mask included: an upper bound is all the screening needs) and returns the
    /// index (lowest on ties) and value of the largest logit outside <paramref name="mask"/>; −1 when a NaN is present.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int ChunkMaxima(ReadOnlySpan<float> l, int mask, out float max)
    {
        int n = l.Length;
        int chunks = (n + FloatChunk - 1) / FloatChunk;
        if (_chunkMax.Length < chunks)
        {
            _chunkMax = new float[chunks];
        }

        var cm = _chunkMax.AsSpan(0, chunks);
        ref float l0 = ref MemoryMarshal.GetReference(l);
        var ordered = Vector512<float>.AllBitsSet;
        int c = 0;
        for (int start = 0; start < n; start += FloatChunk, c++)
        {
            int end = Math.Min(n, start + FloatChunk);
            int v = start;
            float m = float.NegativeInfinity;
            if (end - start >= 16)
            {
                var acc = Vector512.Create(float.NegativeInfinity);
                for (; v + 16 <= end; v += 16)
                {
                    var x = Vector512.LoadUnsafe(ref l0, (nuint)v);
                    ordered &= Vector512.Equals(x, x);
                    acc = Vector512.MaxNative(acc, x);
                }

                var h = Vector256.MaxNative(acc.GetLower(), acc.GetUpper());
                var q = Vector128.MaxNative(h.GetLower(), h.GetUpper());
                m = Math.Max(Math.Max(q[0], q[1]), Math.Max(q[2], q[3]));
            }

            for (; v < end; v++)
            {
                float x = Unsafe.Add(ref l0, v);
                if (float.IsNaN(x))
                {
                    max = float.NaN;
                    return -1;
                }

                m = x > m ? x : m;
            }

            cm[c] = m;
        }

        max = float.NegativeInfinity;
        if (ordered.ExtractMostSignificantBits() != 0xFFFF)
        {
            max = float.NaN;
            return -1;
        }

        // The largest chunk maximum, the mask's chunk taken without the mask.
        int maskChunk = mask / FloatChunk;
        int bestChunk = -1;
        for (c = 0; c < chunks; c++)
        {
            float m = cm[c];
            if (c == maskChunk)
            {
                m = float.NegativeInfinity;
                int end = Math.Min(n, (c + 1) * FloatChunk);
                for (int v = c * FloatChunk; v < end; v++)
                {
                    if (v != mask && l[v] > m)
                    {
                        m = l[v];
                    }
                }
            }

            if (m > max)
            {
                max = m;
                bestChunk = c;
            }
        }

        if (bestChunk < 0)
        {
            return mask == 0 ? 1 : 0; // every entry is −∞: returned only to be rejected by the caller's range check.
        }

        int first = bestChunk * FloatChunk;
        int top = first + FirstEqual(l[first..Math.Min(n, first + FloatChunk)], max);
        if (top == mask)
        {
            // The mask holds the same value: the next equal entry of the chunk (one exists: the maximum came from it).
            int next = top + 1;
            top = next + FirstEqual(l[next..Math.Min(n, first + FloatChunk)], max);
        }

        return top;
    }

    /// <summary>The first index whose value equals <paramref name="value"/> (−1 if none).</summary>
    private static int FirstEqual(ReadOnlySpan<float> x, float value)
    {
        int v = 0;
        ref float x0 = ref MemoryMarshal.GetReference(x);
        var want = Vector512.Create(value);
        for (; v + 16 <= x.Length; v += 16)
        {
            ulong hits = Vector512.Equals(Vector512.LoadUnsafe(ref x0, (nuint)v), want).ExtractMostSignificantBits();
            if (hits != 0)
            {
                return v + BitOperations.TrailingZeroCount(hits);
            }
        }

        for (; v < x.Length; v++)
        {
            if (x[v] == value)
            {
                return v;
            }
        }

        return -1;
    }

    /// <summary>The k-th largest logit outside the mask (a min-heap of the k largest, screened 16 at a time by its root).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private float KthLargestFloat(ReadOnlySpan<float> logits, int mask, int k)
    {
        if (_heapF.Length < k)
        {
            _heapF = new float[k];
        }

        var heap = _heapF.AsSpan(0, k);
        int size = 0;
        int n = logits.Length;
        ref float l0 = ref MemoryMarshal.GetReference(logits);
        int v = 0;
        while (v < n && size < k)
        {
            if (v != mask)
            {
                int i = size++;
                heap[i] = logits[v];
                while (i > 0 && heap[(i - 1) / 2] > heap[i])
                {
                    (heap[(i - 1) / 2], heap[i]) = (heap[i], heap[(i - 1) / 2]);
                    i = (i - 1) / 2;
                }
            }

            v++;
        }

        for (; v + 16 <= n; v += 16)
        {
            ulong above = Vector512.GreaterThan(Vector512.LoadUnsafe(ref l0, (nuint)v), Vector512.Create(heap[0])).ExtractMostSignificantBits();
            while (above != 0)
            {
                int j = v + BitOperations.TrailingZeroCount(above);
                above &= above - 1;
                if (j != mask && logits[j] > heap[0])
                {
                    SiftDown(heap, logits[j]);
                }
            }
        }

        for (; v < n; v++)
        {
            if (v != mask && logits[v] > heap[0])
            {
                SiftDown(heap, logits[v]);
            }
        }

        return heap[0];

        static void SiftDown(Span<float> heap, float value)
        {
            int k = heap.Length;
            heap[0] = value;
            int i = 0;
            while (true)
            {
                int l = (2 * i) + 1, r = l + 1, s = i;
                if (l < k && heap[l] < heap[s])
                {
                    s = l;
                }

                if (r < k && heap[r] < heap[s])
                {
                    s = r;
                }

                if (s == i)
                {
                    break;
                }

                (heap[s], heap[i]) = (heap[i], heap[s]);
                i = s;
            }
        }
    }

    /// <summary>
    /// argmax over the kept entries (l &gt; lb, or l = lb and id ≤ ib; never the mask) of x + g, exactly as the reference
    /// computes it, drawing the noise only for entries that can still win.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int LazyArgmaxFloat(ReadOnlySpan<float> l, int top, ulong b, double invT, bool unit, float lb, int ib)
    {
        double best = double.NegativeInfinity;
        int bestIndex = -1;
        int mask = _mask;
        float lt = l[top];
        if (top != mask && lt >= lb && (lt != lb || top <= ib))
        {
            _cand[0] = top;
            _u[0] = CounterRandom.ToUnitOpen(CounterRandom.At(b, top));
            EvaluateFloat(l, 1, invT, unit, ref best, ref bestIndex);
        }

        var table = UTable;
        ref float l0 = ref MemoryMarshal.GetReference(l);
        var golden = Vector512.Create(CounterHash.Golden);
        var step = Vector512.Create(unchecked(8 * CounterHash.Golden));
        var m1 = Vector512.Create(0xBF58476D1CE4E5B9UL);
        var m2 = Vector512.Create(0x94D049BB133111EBUL);
        var laneHash = Vector512.Create(1UL, 2, 3, 4, 5, 6, 7, 8) * golden + Vector512.Create(b);
        var cm = _chunkMax;
        Span<byte> passes = stackalloc byte[FloatChunk / 8];
        ref byte pass0 = ref MemoryMarshal.GetReference(passes);
        for (int start = 0; start < l.Length; start += FloatChunk)
        {
            int end = Math.Min(l.Length, start + FloatChunk);
            float cmax = cm[start / FloatChunk];
            double cmaxX = unit ? cmax : cmax * invT;
            double cut = best - MaxNoise;
            if (!(cmaxX >= cut))
            {
                continue; // nothing here can beat the best, whatever its noise: no draw is made.
            }

            // Any entry of the chunk whose u is below the table bound for best − chunk max cannot win; in hash terms
            // u(h) = ((h >> 11) + 0.5)·2⁻⁵³ ≥ U needs h >> 11 ≥ U·2⁵³ − 1.5, so h ≥ (⌊U·2⁵³⌋ − 2)·2¹¹ keeps every such entry.
            double dMin = best - cmaxX;
            double uChunk = dMin >= 0 ? table[dMin >= TableMax ? TableMax : (int)dMin] : 0;
            ulong hMin = uChunk > 0 ? ((ulong)(uChunk * 9007199254740992.0) - 2) << 11 : 0;
            var threshold = Vector512.Create(hMin);
            int cn = 0;
            int v = start;
            int groups = 0;
            var h0 = laneHash + (Vector512.Create((ulong)start) * golden);
            for (; v + 8 <= end; v += 8)
            {
                var h = h0;
                h0 += step;
                h = (h ^ Vector512.ShiftRightLogical(h, 30)) * m1;
                h = (h ^ Vector512.ShiftRightLogical(h, 27)) * m2;
                h ^= Vector512.ShiftRightLogical(h, 31);
                Unsafe.Add(ref pass0, groups++) = (byte)Vector512.GreaterThanOrEqual(h, threshold).ExtractMostSignificantBits();
            }

            for (int g = 0; g < groups; g++)
            {
                uint pass = Unsafe.Add(ref pass0, g);
                while (pass != 0)
                {
                    int lane = BitOperations.TrailingZeroCount(pass);
                    pass &= pass - 1;
                    ConsiderFloat(l, start + (g * 8) + lane, b, best, cut, invT, unit, lb, ib, mask, table, ref cn);
                }
            }

            for (; v < end; v++)
            {
                ConsiderFloat(l, v, b, best, cut, invT, unit, lb, ib, mask, table, ref cn);
            }

            if (cn > 0)
            {
                EvaluateFloat(l, cn, invT, unit, ref best, ref bestIndex);
            }
        }

        return bestIndex;
    }

    /// <summary>Adds entry v to the candidates unless it provably cannot beat <paramref name="best"/> or is filtered out.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ConsiderFloat(ReadOnlySpan<float> l, int v, ulong b, double best, double cut, double invT, bool unit, float lb, int ib, int mask,
        double[] table, ref int n)
    {
        float lv = l[v];
        if (v == mask || lv < lb || (lv == lb && v > ib))
        {
            return;
        }

        double xv = unit ? lv : lv * invT;
        if (!(xv >= cut))
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
    private void EvaluateFloat(ReadOnlySpan<float> l, int n, double invT, bool unit, ref double best, ref int bestIndex)
    {
        int m = Math.Max(n, Pad);
        var u = _u.AsSpan(0, m);
        u[n..].Fill(0.5);
        System.Numerics.Tensors.TensorPrimitives.Log(u, u);
        System.Numerics.Tensors.TensorPrimitives.Negate(u, u);
        System.Numerics.Tensors.TensorPrimitives.Log(u, u);
        System.Numerics.Tensors.TensorPrimitives.Negate(u, u);
        for (int i = 0; i < n; i++)
        {
            int v = _cand[i];
            double s = (unit ? l[v] : l[v] * invT) + u[i];
            if (s > best || (s == best && v < bestIndex))
            {
                best = s;
                bestIndex = v;
            }
        }
    }

    /// <summary>
    /// Whether the reference nucleus keeps entry <paramref name="w"/> of the kept (top-k) set l ≥ <paramref name="lb"/>: 1 when
    /// surely (its preceding mass in the descending (value, then id) order is below p by <see cref="MassMargin"/> of the total),
    /// 0 when surely not, −1 when too close to call in float32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal int InNucleusFloat(ReadOnlySpan<float> l, float lmax, float invT, double p, float lb, int w)
    {
        float lw = l[w];
        double total = 0, before = 0;
        MassPass(l, 0, _mask, lmax, invT, lb, lw, w, ref total, ref before);
        MassPass(l, _mask + 1, l.Length, lmax, invT, lb, lw, w, ref total, ref before);
        if (before == 0)
        {
            return 1; // nothing precedes it: the first entry of the order is always kept.
        }

        double margin = MassMargin * total;
        double target = p * total;
        return before < target - margin ? 1 : before > target + margin ? 0 : -1;
    }

    /// <summary>Σ e and Σ e over the entries ahead of (lw, w), for ids in [start, end) with l ≥ lb; e = exp((l − lmax)·invT) in float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MassPass(ReadOnlySpan<float> l, int start, int end, float lmax, float invT, float lb, float lw, int w, ref double total, ref double before)
    {
        int v = start;
        ref float l0 = ref MemoryMarshal.GetReference(l);
        if (end - start >= 16)
        {
            var vmax = Vector512.Create(lmax);
            var vinv = Vector512.Create(invT);
            var vlb = Vector512.Create(lb);
            var vlw = Vector512.Create(lw);
            var vw = Vector512.Create(w);
            var lanes = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            Vector512<double> t0 = default, t1 = default, a0 = default, a1 = default;
            for (; v + 16 <= end; v += 16)
            {
                var x = Vector512.LoadUnsafe(ref l0, (nuint)v);
                var e = Vector512.Exp((x - vmax) * vinv) & Vector512.GreaterThanOrEqual(x, vlb);
                var ahead = Vector512.GreaterThan(x, vlw)
                    | (Vector512.Equals(x, vlw) & Vector512.LessThan(lanes + Vector512.Create(v), vw).AsSingle());
                var ea = e & ahead;
                t0 += Vector512.WidenLower(e);
                t1 += Vector512.WidenUpper(e);
                a0 += Vector512.WidenLower(ea);
                a1 += Vector512.WidenUpper(ea);
            }

            total += Vector512.Sum(t0 + t1);
            before += Vector512.Sum(a0 + a1);
        }

        for (; v < end; v++)
        {
            float x = l[v];
            if (x >= lb)
            {
                float e = MathF.Exp((x - lmax) * invT);
                total += e;
                if (x > lw || (x == lw && v < w))
                {
                    before += e;
                }
            }
        }
    }
}
