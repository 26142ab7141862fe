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
/// <item><b>Nucleus with a proven margin.</b> Softmax masses are computed in float32 (e = exp(a), a = (l − l_max)·(1/T), by
/// <see cref="ExpMass"/>) and summed in float64. Each e is within (<see cref="ArgumentRelativeError"/>·|a| +
/// <see cref="ExpRelativeError"/>)·e (+4e-38 when tiny) of the reference's float64 mass, so every partial sum is within
/// E = 2.4e-7·Σ|a|e + 1e-6·Σe + V·4e-38 (accumulated in the same pass); a decision "preceding mass vs p·total" is taken only
/// when it clears p by 2E + 1e-9·total (the reference's own rounding). The Gumbel winner of the top-k set wins whenever the
/// nucleus keeps it (probability ≈ p; one pass, no sort); otherwise the nucleus's last entry is found by a threshold search
/// on the floats. Anything too close to call is handed to the float64 stage.</item>
/// </list>
/// </summary>
internal sealed partial class FastSelection
{
    /// <summary>
    /// A bound on the relative error of the float32 exp kernels (<see cref="ExpMass"/>, <c>MathF.Exp</c>) for arguments in
    /// [−87, 0], plus 1e-10 for the reference's own float64 rounding of x − x_max (|x| &lt; 1e5); checked by tests.
    /// </summary>
    internal const double ExpRelativeError = 1e-6;

    /// <summary>A bound on the relative error of the float32 argument a = (l − l_max)·(1/T) per unit of |a| (three roundings).</summary>
    internal const double ArgumentRelativeError = 2.4e-7;

    private const int FloatChunk = 128;

    /// <summary>Top-k sets up to this size are scored directly (every kept entry's noise is drawn; no screening).</summary>
    private const int DirectLimit = 2048;

    private float[] _heapF = [];
    private float[] _chunkMax = [];
    private float[] _eRow = [];
    private float[] _bl = [];
    private float[] _be = [];
    private int[] _bi = [];
    private ulong[] _keys = [];

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
        int w = k > 0 && k <= DirectLimit ? DirectArgmax(logits, b, invT, unit, lb) : LazyArgmaxFloat(logits, top, b, invT, unit, lb, ib);
        if (w < 0 || _options.TopP >= 1)
        {
            return w;
        }

        // The winner over the top-k set wins the nucleus-filtered row whenever the nucleus keeps it (one pass, no sort).
        int inside = InNucleusFloat(logits, lmax, (float)invT, _options.TopP, lb, w, out double total, out double margin);
        if (inside == 1)
        {
            return w;
        }

        // Otherwise find the nucleus's last entry (a threshold search on the floats) and take the argmax inside it.
        if (inside < 0 || !NucleusBoundaryFloat(logits, lmax, (float)invT, _options.TopP, lb, total, margin, out float nb, out int nib))
        {
            return -1;
        }

        return LazyArgmaxFloat(logits, top, b, invT, unit, nb, nib);
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
            if (cmax < lb)
            {
                continue; // every entry of the chunk is filtered out.
            }

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

    /// <summary>argmax of x + g over the entries l ≥ <paramref name="lb"/> outside the mask (a small top-k set): every one is scored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int DirectArgmax(ReadOnlySpan<float> l, ulong b, double invT, bool unit, float lb)
    {
        double best = double.NegativeInfinity;
        int bestIndex = -1;
        int cn = 0;
        int v = 0;
        ref float l0 = ref MemoryMarshal.GetReference(l);
        var vlb = Vector512.Create(lb);
        for (; v + 16 <= l.Length; v += 16)
        {
            ulong hits = Vector512.GreaterThanOrEqual(Vector512.LoadUnsafe(ref l0, (nuint)v), vlb).ExtractMostSignificantBits();
            while (hits != 0)
            {
                int j = v + BitOperations.TrailingZeroCount(hits);
                hits &= hits - 1;
                AddDirect(l, j, b, invT, unit, ref cn, ref best, ref bestIndex);
            }
        }

        for (; v < l.Length; v++)
        {
            if (l[v] >= lb)
            {
                AddDirect(l, v, b, invT, unit, ref cn, ref best, ref bestIndex);
            }
        }

        if (cn > 0)
        {
            EvaluateFloat(l, cn, invT, unit, ref best, ref bestIndex);
        }

        return bestIndex;
    }

    private void AddDirect(ReadOnlySpan<float> l, int j, ulong b, double invT, bool unit, ref int cn, ref double best, ref int bestIndex)
    {
        if (j == _mask)
        {
            return;
        }

        _cand[cn] = j;
        _u[cn] = CounterRandom.ToUnitOpen(CounterRandom.At(b, j));
        if (++cn == Chunk)
        {
            EvaluateFloat(l, cn, invT, unit, ref best, ref bestIndex);
            cn = 0;
        }
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
    /// surely (its preceding mass in the descending (value, then id) order is below p by the certified margin),
    /// 0 when surely not, −1 when too close to call in float32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal int InNucleusFloat(ReadOnlySpan<float> l, float lmax, float invT, double p, float lb, int w, out double total, out double margin)
    {
        float lw = l[w];
        total = 0;
        double before = 0, weighted = 0;
        if (_eRow.Length < l.Length)
        {
            _eRow = new float[l.Length];
        }

        MassPass(l, _eRow, 0, _mask, lmax, invT, lb, lw, w, ref total, ref before, ref weighted);
        MassPass(l, _eRow, _mask + 1, l.Length, lmax, invT, lb, lw, w, ref total, ref before, ref weighted);
        _eRow[_mask] = 0;

        // Any partial sum of the float32 masses (the total included) is off by at most E from the float64 masses; the
        // reference's own summation is good to 1e-9 of the total. Both sides of "before vs p·total" can move by E.
        double e = (ArgumentRelativeError * weighted * 1.01) + (ExpRelativeError * total) + (l.Length * 4e-38);
        margin = (2 * e) + (1e-9 * total);
        if (before == 0)
        {
            return 1; // nothing precedes it: the first entry of the order is always kept.
        }

        double target = p * total;
        return before < target - margin ? 1 : before > target + margin ? 0 : -1;
    }

    /// <summary>
    /// exp(a) for a ≤ 0 in float32, for softmax masses: 2ⁿ·P(r) with n = round(a·log₂e), r = a − n·ln2 (two-part ln2, |r| ≤ 0.347)
    /// and P the degree-6 Taylor polynomial (truncation ≤ 1.3e-7 relative); 0 below a = −87 (true value &lt; 1.7e-38). NaN
    /// arguments give NaN or 0; −∞ gives 0. Tested against Math.Exp to be inside <see cref="ExpRelativeError"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> ExpMass(Vector512<float> a)
    {
        var live = Vector512.GreaterThanOrEqual(a, Vector512.Create(-87f));
        a = Vector512.Max(a, Vector512.Create(-87f));
        var n = Vector512.Round(a * Vector512.Create(1.44269504f));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693145752f), a);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-1.42860677e-6f), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(1f / 720), r, Vector512.Create(1f / 120));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 24));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        return (p * scale) & live;
    }

    /// <summary>Σ e and Σ e over the entries ahead of (lw, w), for ids in [start, end) with l ≥ lb; e = exp((l − lmax)·invT) in float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MassPass(ReadOnlySpan<float> l, float[] eRow, int start, int end, float lmax, float invT, float lb, float lw, int w, ref double total,
        ref double before, ref double weighted)
    {
        int v = start;
        ref float l0 = ref MemoryMarshal.GetReference(l);
        ref float e0 = ref MemoryMarshal.GetArrayDataReference(eRow);
        if (end - start >= 16)
        {
            var vmax = Vector512.Create(lmax);
            var vinv = Vector512.Create(invT);
            var vlb = Vector512.Create(lb);
            var vlw = Vector512.Create(lw);
            var vw = Vector512.Create(w);
            var lanes = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            Vector512<double> t0 = default, t1 = default, a0 = default, a1 = default;
            Vector512<float> wsum = default;
            for (; v + 16 <= end; v += 16)
            {
                var x = Vector512.LoadUnsafe(ref l0, (nuint)v);
                var a = (x - vmax) * vinv;
                var e = ExpMass(a) & Vector512.GreaterThanOrEqual(x, vlb);
                wsum -= Vector512.Max(a, Vector512.Create(-88f)) * e; // Σ |a|·e (a ≤ 0; clamped so that −∞·0 never occurs)
                e.StoreUnsafe(ref e0, (nuint)v);
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
            weighted += Vector512.Sum(wsum);
        }

        for (; v < end; v++)
        {
            float x = l[v];
            eRow[v] = 0;
            if (x >= lb)
            {
                float a = (x - lmax) * invT;
                float e = MathF.Exp(a);
                eRow[v] = e;
                total += e;
                weighted -= Math.Max(a, -88f) * e;
                if (x > lw || (x == lw && v < w))
                {
                    before += e;
                }
            }
        }
    }

    /// <summary>
    /// The last entry (value <paramref name="nb"/>, id <paramref name="nib"/>) the reference nucleus keeps, found on the
    /// float32 masses of <see cref="MassPass"/> (in <c>_eRow</c>): value brackets [lo, hi) are narrowed by 15 thresholds per
    /// round (masses above each, summed in float64) while the mass above hi stays certainly below p·total and the mass from
    /// lo up certainly above it; the few entries left are sorted by (value desc, id asc) and walked. False when a decision
    /// falls inside the margin, the boundary lies in the far tail, or too many entries tie.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool NucleusBoundaryFloat(ReadOnlySpan<float> l, float lmax, float invT, double p, float lb, double total, double walkMargin, out float nb,
        out int nib)
    {
        const int Cap = 512;
        nb = float.PositiveInfinity;
        nib = -1;
        // The brackets use float32 block sums (64 vectors per block: ≤ 4e-6 relative), so they take a wider margin; the final
        // walk restarts from a float64 sum of the masses above the bracket.
        double target = p * total, margin = walkMargin + (4e-6 * total);
        float lo = Math.Max(Math.Max(lb, lmax - (40f / invT)), System.Numerics.Tensors.TensorPrimitives.Min(l));
        float hi = float.PositiveInfinity;
        double above = 0;
        int n = l.Length;
        if (_bl.Length < n)
        {
            _bl = new float[n];
            _be = new float[n];
            _bi = new int[n];
        }

        Span<double> sums = stackalloc double[16];
        Span<float> t = stackalloc float[16];

        // The working set: the row itself (ids implicit) in round 1, then the compressed bracket.
        ReadOnlySpan<float> wl = l;
        ReadOnlySpan<float> we = _eRow.AsSpan(0, n);
        bool compressed = false;
        int count = n;
        for (int round = 0; round < 12; round++)
        {
            float top = Math.Min(hi, lmax);
            for (int j = 0; j < 16; j++)
            {
                t[j] = lo + ((top - lo) * (j / 16f));
            }

            t[0] = lo;
            MultiSum(wl[..count], we[..count], lo, hi, t, sums);

            // sums[j] = mass of the set with l ≥ t[j] (and < hi); hi's mass is `above`.
            if (!(above + sums[0] >= target + margin))
            {
                return false; // the boundary is in the far tail (or too close to call at lo).
            }

            int loJ = 0;
            for (int j = 1; j < 16; j++)
            {
                if (above + sums[j] >= target + margin)
                {
                    loJ = j;
                }
            }

            int hiJ = 16;
            for (int j = 15; j > loJ; j--)
            {
                if (above + sums[j] <= target - margin)
                {
                    hiJ = j;
                }
            }

            float newLo = t[loJ];
            float newHi = hiJ == 16 ? hi : t[hiJ];
            double newAbove = above + (hiJ == 16 ? 0 : sums[hiJ]);

            // Keep the bracket's entries (compressing in place after the first round).
            int c = Compress(wl[..count], we[..count], compressed, newLo, newHi);
            bool stuck = newLo == lo && newHi == hi;
            lo = newLo;
            hi = newHi;
            above = newAbove;
            count = c;
            wl = _bl;
            we = _be;
            compressed = true;
            if (count <= Cap)
            {
                if (WalkBracket(count, MassAtLeast(l, hi), target, walkMargin, out nb, out nib, out bool close))
                {
                    return true;
                }

                // Too close to p for float32 masses: redo the walk with float64 masses (one vectorised pass over the row).
                return close && WalkBracketDouble(l, lmax, invT, lb, p, count, hi, out nb, out nib);
            }

            if (stuck)
            {
                return false; // the bracket cannot shrink (heavy ties, or thresholds a few ulps apart).
            }
        }

        return false;
    }

    /// <summary>Copies the entries with lo ≤ l &lt; hi (value, mass, id) to the front of the bracket buffers; returns their count.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int Compress(ReadOnlySpan<float> wl, ReadOnlySpan<float> we, bool compressed, float lo, float hi)
    {
        int c = 0;
        int i = 0;
        ref float l0 = ref MemoryMarshal.GetReference(wl);
        var vlo = Vector512.Create(lo);
        var vhi = Vector512.Create(hi);
        for (; i + 16 <= wl.Length; i += 16)
        {
            var x = Vector512.LoadUnsafe(ref l0, (nuint)i);
            uint hits = (uint)(Vector512.GreaterThanOrEqual(x, vlo) & Vector512.LessThan(x, vhi)).ExtractMostSignificantBits();
            while (hits != 0)
            {
                int j = i + BitOperations.TrailingZeroCount(hits);
                hits &= hits - 1;
                _bl[c] = wl[j];
                _be[c] = we[j];
                _bi[c] = compressed ? _bi[j] : j;
                c++;
            }
        }

        for (; i < wl.Length; i++)
        {
            float x = wl[i];
            if (x >= lo && x < hi)
            {
                _bl[c] = x;
                _be[c] = we[i];
                _bi[c] = compressed ? _bi[i] : i;
                c++;
            }
        }

        return c;
    }

    /// <summary>Σ e (float32 masses of <c>_eRow</c>, summed in float64) over the entries with l ≥ <paramref name="hi"/>.</summary>
    private double MassAtLeast(ReadOnlySpan<float> l, float hi)
    {
        if (float.IsPositiveInfinity(hi))
        {
            return 0;
        }

        int v = 0;
        ref float l0 = ref MemoryMarshal.GetReference(l);
        ref float e0 = ref MemoryMarshal.GetArrayDataReference(_eRow);
        var vhi = Vector512.Create(hi);
        Vector512<double> s0 = default, s1 = default;
        for (; v + 16 <= l.Length; v += 16)
        {
            var e = Vector512.LoadUnsafe(ref e0, (nuint)v) & Vector512.GreaterThanOrEqual(Vector512.LoadUnsafe(ref l0, (nuint)v), vhi);
            s0 += Vector512.WidenLower(e);
            s1 += Vector512.WidenUpper(e);
        }

        double sum = Vector512.Sum(s0 + s1);
        for (; v < l.Length; v++)
        {
            if (l[v] >= hi)
            {
                sum += _eRow[v];
            }
        }

        return sum;
    }

    /// <summary>Sorts the bracket's entries by (value desc, id asc) and finds the last one the nucleus certainly keeps.</summary>
    private bool WalkBracket(int count, double above, double target, double margin, out float nb, out int nib, out bool close)
    {
        nb = float.PositiveInfinity;
        nib = -1;
        close = false;
        if (_keys.Length < count)
        {
            _keys = new ulong[Math.Max(count, 64)];
        }

        var keys = _keys.AsSpan(0, count);
        for (int i = 0; i < count; i++)
        {
            uint bits = BitConverter.SingleToUInt32Bits(_bl[i] + 0f); // −0 → +0: the reference orders them as equal
            uint ascending = (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
            keys[i] = ((ulong)~ascending << 32) | (uint)i;
        }

        keys.Sort();
        double cum = above;
        bool any = false;
        for (int r = 0; r < count; r++)
        {
            int i = (int)(uint)keys[r];
            bool first = r == 0 && above == 0;
            if (first || cum <= target - margin)
            {
                nb = _bl[i];
                nib = _bi[i];
                any = true;
                cum += _be[i];
                continue;
            }

            if (cum > target + margin)
            {
                break;
            }

            close = true;
            return false; // too close to p.
        }

        return any;
    }

    /// <summary>
    /// <see cref="WalkBracket"/> with float64 masses computed as the reference computes them (x = (double)l·(1/T),
    /// exp(x − x_max)); the vectorised exp may differ from the reference's scalar one by an ulp, far inside the 1e-9 margin.
    /// The bracket's keys (sorted by the float32 walk) are reused.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool WalkBracketDouble(ReadOnlySpan<float> l, float lmax, float invTf, float lb, double p, int count, float hi, out float nb, out int nib)
    {
        nb = float.PositiveInfinity;
        nib = -1;
        double invT = 1.0 / _options.Temperature;
        double xmax = lmax * invT;
        const int Block = 512;
        Span<double> d = stackalloc double[Block];
        double total = 0, above = 0;
        for (int start = 0; start < l.Length; start += Block)
        {
            int n = Math.Min(Block, l.Length - start);
            var block = l.Slice(start, n);
            for (int i = 0; i < n; i++)
            {
                d[i] = (block[i] * invT) - xmax;
            }

            System.Numerics.Tensors.TensorPrimitives.Exp(d[..n], d[..n]);
            for (int i = 0; i < n; i++)
            {
                float x = block[i];
                if (x >= lb && start + i != _mask)
                {
                    total += d[i];
                    if (x >= hi)
                    {
                        above += d[i];
                    }
                }
            }
        }

        _ = invTf;
        double target = p * total, margin = 1e-9 * total;
        var keys = _keys.AsSpan(0, count);
        double cum = above;
        bool any = false;
        for (int r = 0; r < count; r++)
        {
            int i = (int)(uint)keys[r];
            if ((r == 0 && above == 0) || cum <= target - margin)
            {
                nb = _bl[i];
                nib = _bi[i];
                any = true;
                cum += Math.Exp((_bl[i] * invT) - xmax);
                continue;
            }

            if (cum > target + margin)
            {
                break;
            }

            return false;
        }

        return any;
    }

    /// <summary>For the entries with lo ≤ l &lt; hi: the mass with l ≥ t[j], for each of the 16 thresholds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MultiSum(ReadOnlySpan<float> l, ReadOnlySpan<float> e, float lo, float hi, ReadOnlySpan<float> t, Span<double> sums)
    {
        sums.Clear();
        int v = 0;
        ref float l0 = ref MemoryMarshal.GetReference(l);
        ref float e0 = ref MemoryMarshal.GetReference(e);
        var vlo = Vector512.Create(lo);
        var vhi = Vector512.Create(hi);
        for (int half = 0; half < 16; half += 8)
        {
            var t0 = Vector512.Create(t[half]);
            var t1 = Vector512.Create(t[half + 1]);
            var t2 = Vector512.Create(t[half + 2]);
            var t3 = Vector512.Create(t[half + 3]);
            var t4 = Vector512.Create(t[half + 4]);
            var t5 = Vector512.Create(t[half + 5]);
            var t6 = Vector512.Create(t[half + 6]);
            var t7 = Vector512.Create(t[half + 7]);
            for (v = 0; v + 16 <= l.Length;)
            {
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
                int blockEnd = Math.Min(l.Length - 15, v + (64 * 16));
                for (; v < blockEnd; v += 16)
                {
                    var x = Vector512.LoadUnsafe(ref l0, (nuint)v);
                    var ev = Vector512.LoadUnsafe(ref e0, (nuint)v) & Vector512.GreaterThanOrEqual(x, vlo) & Vector512.LessThan(x, vhi);
                    a0 += ev & Vector512.GreaterThanOrEqual(x, t0);
                    a1 += ev & Vector512.GreaterThanOrEqual(x, t1);
                    a2 += ev & Vector512.GreaterThanOrEqual(x, t2);
                    a3 += ev & Vector512.GreaterThanOrEqual(x, t3);
                    a4 += ev & Vector512.GreaterThanOrEqual(x, t4);
                    a5 += ev & Vector512.GreaterThanOrEqual(x, t5);
                    a6 += ev & Vector512.GreaterThanOrEqual(x, t6);
                    a7 += ev & Vector512.GreaterThanOrEqual(x, t7);
                }

                sums[half] += Wide(a0);
                sums[half + 1] += Wide(a1);
                sums[half + 2] += Wide(a2);
                sums[half + 3] += Wide(a3);
                sums[half + 4] += Wide(a4);
                sums[half + 5] += Wide(a5);
                sums[half + 6] += Wide(a6);
                sums[half + 7] += Wide(a7);
            }
        }

        for (; v < l.Length; v++)
        {
            float x = l[v];
            if (x >= lo && x < hi)
            {
                for (int j = 0; j < 16; j++)
                {
                    if (x >= t[j])
                    {
                        sums[j] += e[v];
                    }
                }
            }
        }

        static double Wide(Vector512<float> a) => Vector512.Sum(Vector512.WidenLower(a) + Vector512.WidenUpper(a));
    }
}
