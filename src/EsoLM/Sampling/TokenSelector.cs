using EsoLM.Randomness;

namespace EsoLM.Sampling;

/// <summary>
/// Chooses tokens from rows of logits under <see cref="TokenSelectionOptions"/>, in float64 as the reference does:
/// zero-masking (the mask id is never chosen, whatever the filters or the noise), temperature, top-k (ties kept), the
/// nucleus filter (sort descending, cumulative softmax, drop entries whose preceding mass already exceeds p, so the first
/// entry that crosses p and the top-1 are always kept), then argmax(logits + Gumbel noise) or plain argmax.
/// Only rows with top-k/top-p sort anything, and then only the candidates that can lie inside the nucleus.
/// Owns scratch buffers: one instance per thread; reuse it across rows and calls (no allocation per row).
/// </summary>
internal sealed class TokenSelector
{
    private readonly int _vocab;
    private readonly int _maskId;
    private readonly TokenSelectionOptions _options;
    private readonly IGumbelNoiseSource _noise;
    private readonly double[] _x;
    private readonly double[] _g;
    private readonly FastSelection? _fast;
    private Candidate[] _candidates = [];
    private double[] _heap = [];

    /// <summary>Creates a selector for a vocabulary of <paramref name="vocabSize"/> ids whose mask id is <paramref name="maskTokenId"/>.</summary>
    public TokenSelector(int vocabSize, int maskTokenId, TokenSelectionOptions options, IGumbelNoiseSource? noise = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 2);
        if ((uint)maskTokenId >= (uint)vocabSize)
        {
            throw new ArgumentOutOfRangeException(nameof(maskTokenId), maskTokenId, $"The mask id must be in [0, {vocabSize}) (the vocabulary size).");
        }

        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _vocab = vocabSize;
        _maskId = maskTokenId;
        _options = options;
        _noise = noise ?? CounterGumbelNoise.Instance;
        _x = new double[vocabSize];
        _g = new double[vocabSize];
        _fast = _noise is CounterGumbelNoise && vocabSize >= FastSelection.MinVocabulary ? new FastSelection(this, vocabSize, maskTokenId, options) : null;
    }

    /// <summary>The options.</summary>
    public TokenSelectionOptions Options => _options;

    /// <summary>The fast path (null when it does not apply: custom noise, tiny vocabularies); for tests and benchmarks.</summary>
    internal FastSelection? Fast => _fast;

    /// <summary>Chooses a token for one row of raw logits (before zero-masking) for the draw <paramref name="key"/>.</summary>
    /// <remarks>
    /// With the default counter-based noise the choice is computed lazily (see <see cref="FastSelection"/>) and is
    /// identical to <see cref="SelectReference"/>: same draws, same float64 arithmetic, same tie-breaking (lowest id).
    /// </remarks>
    public int Select(ReadOnlySpan<float> logits, DrawKey key)
    {
        if (logits.Length != _vocab)
        {
            throw new ArgumentException($"A logits row has {logits.Length} values; the vocabulary has {_vocab}.", nameof(logits));
        }

        if (!_options.Greedy && _fast is { } fast)
        {
            int token = fast.Select(logits, key);
            if (token >= 0)
            {
                return token;
            }
        }

        return SelectReference(logits, key);
    }

    /// <summary>
    /// The plain (reference) selection: fills the Gumbel noise of every vocabulary entry, filters the whole row, then takes
    /// argmax(x + g). <see cref="Select"/> returns exactly what this returns; kept for tests and as the fallback.
    /// </summary>
    internal int SelectReference(ReadOnlySpan<float> logits, DrawKey key)
    {
        if (logits.Length != _vocab)
        {
            throw new ArgumentException($"A logits row has {logits.Length} values; the vocabulary has {_vocab}.", nameof(logits));
        }

        int mask = _maskId;
        if (_options.Greedy)
        {
            int best = -1;
            float bestValue = float.NegativeInfinity;
            for (int v = 0; v < logits.Length; v++)
            {
                if (v != mask && (best < 0 ? !float.IsNaN(logits[v]) : logits[v] > bestValue))
                {
                    best = v;
                    bestValue = logits[v];
                }
            }

            return best >= 0 ? best : throw NoChoice();
        }

        var g = _g.AsSpan();
        _noise.Fill(key, g);
        double invT = 1.0 / _options.Temperature;
        bool unit = _options.Temperature == 1.0;
        if (_options.TopK == 0 && _options.TopP >= 1)
        {
            int best = -1;
            double bestScore = double.NegativeInfinity;
            for (int v = 0; v < logits.Length; v++)
            {
                double s = (unit ? logits[v] : logits[v] * invT) + g[v];
                if (v != mask && s > bestScore)
                {
                    best = v;
                    bestScore = s;
                }
            }

            return best >= 0 ? best : throw NoChoice();
        }

        var x = _x.AsSpan();
        Filter(logits, x);
        {
            int best = -1;
            double bestScore = double.NegativeInfinity;
            for (int v = 0; v < x.Length; v++)
            {
                if (v != mask && x[v] > double.NegativeInfinity)
                {
                    double s = x[v] + g[v];
                    if (s > bestScore)
                    {
                        best = v;
                        bestScore = s;
                    }
                }
            }

            return best >= 0 ? best : throw NoChoice();
        }
    }

    /// <summary>
    /// The filtered float64 logits the Gumbel-max runs on: zero-masked, divided by the temperature, entries dropped by
    /// top-k/top-p set to −∞. Exposed for tests and diagnostics.
    /// </summary>
    public void Filter(ReadOnlySpan<float> logits, Span<double> filtered)
    {
        if (logits.Length != _vocab || filtered.Length < _vocab)
        {
            throw new ArgumentException($"Expected {_vocab} logits and room for {_vocab} filtered values.", nameof(logits));
        }

        double invT = 1.0 / _options.Temperature;
        for (int v = 0; v < _vocab; v++)
        {
            filtered[v] = logits[v] * invT;
        }

        filtered[_maskId] = -1e6;
        Filter(filtered[.._vocab], _options.TopK, _options.TopP);
    }

    /// <summary>Applies top-k then the nucleus filter in place to float64 logits (dropped entries become −∞).</summary>
    internal void Filter(Span<double> x, int topK, double topP)
    {
        if (topK > 0 && topK < x.Length)
        {
            double threshold = KthLargest(x, topK);
            for (int v = 0; v < x.Length; v++)
            {
                if (x[v] < threshold)
                {
                    x[v] = double.NegativeInfinity;
                }
            }
        }

        if (topP < 1)
        {
            Nucleus(x, topP);
        }
    }

    private void Nucleus(Span<double> x, double p)
    {
        double max = double.NegativeInfinity;
        foreach (double v in x)
        {
            max = Math.Max(max, v);
        }

        if (double.IsNaN(max) || double.IsNegativeInfinity(max))
        {
            throw NoChoice();
        }

        double total = 0;
        for (int v = 0; v < x.Length; v++)
        {
            total += Math.Exp(x[v] - max);
        }

        // Candidates: the entries of probability ≥ cutoff, with the cutoff lowered until their mass exceeds p. Every other
        // entry ranks after all candidates, so its preceding mass is > p and it is dropped: only candidates are sorted.
        int count = 0;
        for (double cutoff = 1e-4; ; cutoff *= 1e-4)
        {
            bool all = cutoff < 1e-300;
            double mass = 0;
            count = 0;
            for (int v = 0; v < x.Length; v++)
            {
                double e = Math.Exp(x[v] - max);
                if (all || e >= cutoff)
                {
                    mass += e;
                    count++;
                }
            }

            if (all || mass / total > p)
            {
                if (_candidates.Length < count)
                {
                    _candidates = new Candidate[x.Length];
                }

                int c = 0;
                for (int v = 0; v < x.Length; v++)
                {
                    if (all || Math.Exp(x[v] - max) >= cutoff)
                    {
                        _candidates[c++] = new Candidate(x[v], v);
                    }
                }

                break;
            }
        }

        var cands = _candidates.AsSpan(0, count);
        cands.Sort(static (a, b) => a.Value != b.Value ? b.Value.CompareTo(a.Value) : a.Index.CompareTo(b.Index));
        double cumBefore = 0;
        int keep = 0;
        for (; keep < cands.Length; keep++)
        {
            if (keep > 0 && cumBefore > p)
            {
                break;
            }

            cumBefore += Math.Exp(cands[keep].Value - max) / total;
        }

        // Keep exactly the first `keep` sorted entries (ties broken by index); drop everything else.
        x.Fill(double.NegativeInfinity);
        for (int i = 0; i < keep; i++)
        {
            x[cands[i].Index] = cands[i].Value;
        }
    }

    internal double KthLargest(ReadOnlySpan<double> x, int k)
    {
        if (_heap.Length < k)
        {
            _heap = new double[k];
        }

        // Min-heap of the k largest values seen.
        var heap = _heap.AsSpan(0, k);
        int size = 0;
        foreach (double v in x)
        {
            if (size < k)
            {
                int i = size++;
                heap[i] = v;
                while (i > 0 && heap[(i - 1) / 2] > heap[i])
                {
                    (heap[(i - 1) / 2], heap[i]) = (heap[i], heap[(i - 1) / 2]);
                    i = (i - 1) / 2;
                }
            }
            else if (v > heap[0])
            {
                heap[0] = v;
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

        return heap[0];
    }

    private static InvalidOperationException NoChoice() =>
        new("No token can be chosen: every logit outside the mask id is NaN or −∞ (non-finite model output?).");

    private readonly record struct Candidate(double Value, int Index);
}
