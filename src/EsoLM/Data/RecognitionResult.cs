namespace EsoLM.Data;

/// <summary>What <see cref="GrammarRecognizer.Analyze" /> found in a text.</summary>
/// <param name="TotalSentences">Sentences counted: every span that ends with ".". A trailing fragment is not counted.</param>
/// <param name="ValidSentences">Counted sentences the grammar accepts.</param>
/// <param name="HasTrailingFragment">
/// Whether non-whitespace text followed the last "." (an unfinished sentence, e.g. generation cut off by a length limit); it
/// was ignored.
/// </param>
public sealed record RecognitionResult(int TotalSentences, int ValidSentences, bool HasTrailingFragment)
{
    /// <summary>Counted sentences the grammar rejects.</summary>
    public int InvalidSentences => TotalSentences - ValidSentences;

    /// <summary><see cref="ValidSentences" /> / <see cref="TotalSentences" /> in [0, 1]; 0 when no sentence was counted.</summary>
    public double ValidityRate => TotalSentences == 0 ? 0 : (double)ValidSentences / TotalSentences;
}
