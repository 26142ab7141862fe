using EsoLM.Backends;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Text;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Evaluation;

/// <summary>Generative perplexity of a set of samples.</summary>
/// <param name="Perplexity">exp(Σ nll / Σ counted tokens) over all samples.</param>
/// <param name="NllPerToken">Σ nll / Σ counted tokens (nats).</param>
/// <param name="Tokens">Counted tokens (scorer tokenization): every non-EOS token plus each sample's first EOS.</param>
/// <param name="Retokenized">Whether the samples were re-tokenized through text for the scorer.</param>
internal readonly record struct GenerativePerplexityResult(double Perplexity, double NllPerToken, long Tokens, bool Retokenized);

/// <summary>
/// Scores samples with an autoregressive Eso-LM (a model trained with α0 = 0, e.g. on the same corpus; the paper's GPT-2
/// Large scorer is not available here) by its exact left-to-right likelihood: the sequential (2L) mode in natural order
/// with z all-mask, so position ℓ is predicted from x_{&lt;ℓ} (this network has no shift-by-one, so position 0 is scored
/// too, unlike GPT-2 which cannot score its first token). As in the reference (<c>record_generative_perplexity</c>), a
/// sample is truncated to the scorer's context, padded with EOS, and the counted tokens are the non-EOS tokens plus the
/// first EOS. A sample from a generator with a different tokenizer is re-tokenized through text: its ids are split at the
/// generator's end-of-text id, each piece is decoded and encoded with the scorer's tokenizer, and the pieces are joined
/// with the scorer's end-of-text id.
/// </summary>
internal sealed class GenerativePerplexityScorer
{
    private readonly ITrainingGraph _graph;
    private readonly TrainingBatch _batch = new();

    /// <summary>Creates a scorer.</summary>
    /// <param name="scorer">The AR model (trained with α0 = 0), with its EMA weights.</param>
    /// <param name="tokenizer">The scorer's tokenizer.</param>
    public GenerativePerplexityScorer(INetwork scorer, Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (TokenizerVocabulary.Of(tokenizer).Size > scorer.Config.VocabSize)
        {
            throw new ArgumentException(
                $"The scorer's tokenizer has {TokenizerVocabulary.Of(tokenizer).Size} ids but the scorer model's vocabulary is {scorer.Config.VocabSize}: they do not belong together.",
                nameof(tokenizer));
        }

        Model = scorer;
        Tokenizer = tokenizer;
        _graph = scorer.CreateTrainingGraph();
    }

    /// <summary>The scorer network.</summary>
    public INetwork Model { get; }

    /// <summary>The scorer's tokenizer.</summary>
    public Tokenizer Tokenizer { get; }

    /// <summary>Rows scored per forward pass.</summary>
    public int BatchSize { get; init; } = 16;

    /// <summary>
    /// Converts one sample of <paramref name="generatorTokenizer"/> ids to scorer ids: unchanged when both tokenizers have
    /// the same description, else re-tokenized through text (see the class remarks).
    /// </summary>
    public int[] ToScorerIds(IReadOnlyList<int> sample, Tokenizer generatorTokenizer)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(generatorTokenizer);
        if (SameTokenizer(generatorTokenizer, Tokenizer))
        {
            return [.. sample];
        }

        var ids = sample.ToArray();
        int? genEos = TokenizerVocabulary.Of(generatorTokenizer).EndOfTextId;
        var result = new List<int>();
        int start = 0;
        for (int i = 0; i <= ids.Length; i++)
        {
            bool isEos = i < ids.Length && genEos is int e && ids[i] == e;
            if (i == ids.Length || isEos)
            {
                result.AddRange(Tokenizer.Encode(generatorTokenizer.Decode(ids.AsSpan(start, i - start))));
                if (isEos)
                {
                    result.Add(TokenizerVocabulary.Of(Tokenizer).EndOfTextId ?? throw new ArgumentException(
                        "The sample contains end-of-text tokens but the scorer's tokenizer has no end-of-text id to re-tokenize them to.", nameof(sample)));
                }

                start = i + 1;
            }
        }

        return [.. result];
    }

    /// <summary>Scores samples given in the generator's ids (re-tokenized when the tokenizers differ).</summary>
    public GenerativePerplexityResult Score(IReadOnlyList<IReadOnlyList<int>> samples, Tokenizer generatorTokenizer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(generatorTokenizer);
        bool retokenize = !SameTokenizer(generatorTokenizer, Tokenizer);
        var converted = samples.Select(s => (IReadOnlyList<int>)ToScorerIds(s, generatorTokenizer)).ToList();
        var r = ScoreScorerIds(converted, cancellationToken);
        return r with { Retokenized = retokenize };
    }

    /// <summary>Scores samples already in the scorer's ids.</summary>
    public GenerativePerplexityResult ScoreScorerIds(IReadOnlyList<IReadOnlyList<int>> samples, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentOutOfRangeException.ThrowIfLessThan(samples.Count, 1, nameof(samples));
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1, nameof(BatchSize));
        var cfg = Model.Config;
        int length = cfg.ContextLength;
        int? eos = TokenizerVocabulary.Of(Tokenizer).EndOfTextId;
        int pad = eos ?? 0;
        int n2 = 2 * length;
        var tokens = new int[n2];
        var positions = new int[n2];
        var targets = new int[n2];
        var weights = new float[n2];
        var ranges = new KeyRange[n2];
        MaskRules.Sequential(EsoLmVariant.B, length, 0, ranges);
        for (int i = 0; i < length; i++)
        {
            positions[i] = positions[length + i] = i;
            tokens[i] = cfg.MaskTokenId;
        }

        double nll = 0;
        long counted = 0;
        for (int start = 0; start < samples.Count; start += BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int b = Math.Min(BatchSize, samples.Count - start);
            _batch.Clear();
            for (int j = 0; j < b; j++)
            {
                var s = samples[start + j];
                ArgumentNullException.ThrowIfNull(s, nameof(samples));
                bool seenEos = false;
                for (int i = 0; i < length; i++)
                {
                    int t = i < s.Count ? s[i] : pad;
                    if ((uint)t >= (uint)cfg.VocabSize || t == cfg.MaskTokenId)
                    {
                        throw new ArgumentOutOfRangeException(nameof(samples), t,
                            $"Sample {start + j} has id {t} at position {i}, outside the scorer's vocabulary [0, {cfg.VocabSize}) or the mask id.");
                    }

                    bool isEos = i >= s.Count || (eos is int e && t == e);
                    bool count = !isEos || !seenEos;
                    seenEos |= isEos;
                    tokens[length + i] = t;
                    targets[i] = targets[length + i] = t;
                    weights[i] = count ? 1f : 0f;
                    weights[length + i] = 0f;
                }

                _batch.Add(tokens, positions, ranges, targets, weights);
            }

            _graph.Run(_batch, (IGradients?)null);
            var losses = _graph.RowLosses;
            for (int r = 0; r < _batch.RowCount; r++)
            {
                if (r % n2 < length && losses[r] != 0)
                {
                    nll += losses[r];
                }
            }

            for (int j = 0; j < b; j++)
            {
                var s = samples[start + j];
                bool seenEos = false;
                for (int i = 0; i < length; i++)
                {
                    bool isEos = i >= s.Count || (eos is int e && s[i] == e);
                    if (!isEos || !seenEos)
                    {
                        counted++;
                    }

                    seenEos |= isEos;
                }
            }
        }

        double perToken = nll / counted;
        return new GenerativePerplexityResult(Math.Exp(perToken), perToken, counted, false);
    }

    /// <summary>Whether two tokenizers map text to the same ids (the same instance, or equal self-descriptions).</summary>
    public static bool SameTokenizer(Tokenizer a, Tokenizer b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return ReferenceEquals(a, b) || (a.TryDescribe() is { } described && described == b.TryDescribe());
    }
}
