using EsoLM.Text;
using EsoLM.Data;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Evaluation;

/// <summary>Quality measures of generated samples that need no scorer model (spec §7).</summary>
internal static class SampleMetrics
{
    /// <summary>
    /// Shannon entropy (nats) of the unigram histogram of one sample's token ids (reference <c>metrics.record_entropy</c>):
    /// −Σ_v (n_v/n) log(n_v/n). 0 for an empty sample or a sample of one repeated token.
    /// </summary>
    public static double UnigramEntropy(ReadOnlySpan<int> tokens)
    {
        if (tokens.IsEmpty)
        {
            return 0;
        }

        var counts = new Dictionary<int, int>();
        foreach (var t in tokens)
        {
            counts[t] = counts.GetValueOrDefault(t) + 1;
        }

        double n = tokens.Length, h = 0;
        foreach (var c in counts.Values)
        {
            double p = c / n;
            h -= p * Math.Log(p);
        }

        return h;
    }

    /// <summary>The mean over samples of <see cref="UnigramEntropy"/> (the model tokenizer's ids, before any re-tokenizing).</summary>
    public static double MeanUnigramEntropy(IReadOnlyList<IReadOnlyList<int>> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentOutOfRangeException.ThrowIfLessThan(samples.Count, 1, nameof(samples));
        double s = 0;
        foreach (var sample in samples)
        {
            ArgumentNullException.ThrowIfNull(sample, nameof(samples));
            s += UnigramEntropy(sample is int[] a ? a : sample.ToArray());
        }

        return s / samples.Count;
    }

    /// <summary>
    /// The texts the recognizer judges in one sample: the ids are split at the tokenizer's end-of-text id (documents), each
    /// piece is decoded, and the first piece loses its leading fragment — a sample is a window of the packed stream, so
    /// it usually starts mid-sentence: unless the piece starts (after whitespace) with an upper-case letter, the text up
    /// to and including its first "." is dropped. The recognizer itself ignores each piece's trailing fragment.
    /// </summary>
    public static IReadOnlyList<string> ValidityTexts(ReadOnlySpan<int> tokens, Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var texts = new List<string>();
        int? eos = TokenizerVocabulary.Of(tokenizer).EndOfTextId;
        int start = 0;
        for (int i = 0; i <= tokens.Length; i++)
        {
            if (i == tokens.Length || (eos is int e && tokens[i] == e))
            {
                var text = tokenizer.Decode(tokens[start..i]);
                if (start == 0)
                {
                    text = DropLeadingFragment(text);
                }

                texts.Add(text);
                start = i + 1;
            }
        }

        return texts;
    }

    /// <summary>
    /// The validity rate on the built-in language: valid sentences / counted sentences over every sample's
    /// <see cref="ValidityTexts"/> (sentences pooled across samples), 0 when no sentence is counted.
    /// </summary>
    public static RecognitionResult Validity(IReadOnlyList<IReadOnlyList<int>> samples, Tokenizer tokenizer, GrammarRecognizer? recognizer = null)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(tokenizer);
        recognizer ??= BuiltInLanguage.Recognizer;
        int total = 0, valid = 0;
        bool trailing = false;
        foreach (var sample in samples)
        {
            ArgumentNullException.ThrowIfNull(sample, nameof(samples));
            foreach (var text in ValidityTexts(sample is int[] a ? a : sample.ToArray(), tokenizer))
            {
                var r = recognizer.Analyze(text);
                total += r.TotalSentences;
                valid += r.ValidSentences;
                trailing |= r.HasTrailingFragment;
            }
        }

        return new RecognitionResult(total, valid, trailing);
    }

    /// <summary>
    /// Perplexity of <paramref name="evaluation"/> under the unigram distribution of <paramref name="training"/> (add-one
    /// smoothed over <paramref name="vocabularySize"/> ids so unseen ids have finite cost): the baseline any model must beat.
    /// </summary>
    public static double UnigramPerplexity(ReadOnlySpan<int> training, ReadOnlySpan<int> evaluation, int vocabularySize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabularySize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(evaluation.Length, 1, nameof(evaluation));
        var counts = new long[vocabularySize];
        foreach (var t in training)
        {
            if ((uint)t >= (uint)vocabularySize)
            {
                throw new ArgumentOutOfRangeException(nameof(training), t, $"Token ids must be in [0, {vocabularySize}).");
            }

            counts[t]++;
        }

        double denominator = training.Length + (double)vocabularySize, nll = 0;
        foreach (var t in evaluation)
        {
            if ((uint)t >= (uint)vocabularySize)
            {
                throw new ArgumentOutOfRangeException(nameof(evaluation), t, $"Token ids must be in [0, {vocabularySize}).");
            }

            nll -= Math.Log((counts[t] + 1) / denominator);
        }

        return Math.Exp(nll / evaluation.Length);
    }

    private static string DropLeadingFragment(string text)
    {
        var trimmed = text.TrimStart();
        if (trimmed.Length == 0 || char.IsUpper(trimmed[0]))
        {
            return trimmed;
        }

        int dot = trimmed.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? string.Empty : trimmed[(dot + 1)..];
    }
}
