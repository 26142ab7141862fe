using System.Numerics;

namespace EsoLM.Data;

/// <summary>
/// Decides membership in the built-in language: a recursive-descent parser over the word list that implements exactly the
/// grammar documented on <see cref="GrammarGenerator" />, under the bounds of its <see cref="GrammarOptions" />. Each
/// nonterminal returns the set of word positions where it can end (a 64-bit mask; sentences have at most
/// <see cref="GrammarOptions.WordLimit" /> words), which explores every attachment of ambiguous phrases without
/// backtracking state. Stateless and thread-safe.
/// </summary>
/// <remarks>
/// <para>
/// Sentence format: the words separated by whitespace (any amount), the first word capitalised (first letter upper-case, the
/// rest as in the lexicon), every other word exactly as in the lexicon (lower-case), and a "." attached to the last word and
/// nowhere else.
/// </para>
/// <para>
/// Text: sentences are the spans that end at each "."; whitespace between them is irrelevant. Truncation rule: non-whitespace
/// text after the last "." is an unfinished sentence (a model's output cut off mid-sentence); it is ignored — counted neither
/// as valid nor as invalid — and reported by <see cref="RecognitionResult.HasTrailingFragment" />. An unfinished sentence
/// anywhere else has no "." of its own, so it runs into the next sentence and that span is counted invalid.
/// </para>
/// </remarks>
public sealed class GrammarRecognizer
{
    private static readonly WordInfo NoWord = new(string.Empty, (WordCategory)(-1), GrammaticalNumber.None, false);

    private readonly int _maxAdjectives;
    private readonly int _maxDepth;
    private readonly int _maxClauses;
    private readonly int _maxWords;

    /// <summary>Creates a recognizer for the language bounded by <paramref name="options" />.</summary>
    /// <param name="options">Only the bounds matter (probabilities do not); <see cref="GrammarOptions.Default" /> when null.</param>
    internal GrammarRecognizer(GrammarOptions? options = null)
    {
        Options = options ?? GrammarOptions.Default;
        _maxAdjectives = Options.MaxAdjectives;
        _maxDepth = Options.MaxDepth;
        _maxClauses = Options.MaxClauses;
        _maxWords = Options.MaxWords;
    }

    /// <summary>The options whose bounds define the accepted language.</summary>
    internal GrammarOptions Options { get; }

    /// <summary>Whether <paramref name="sentence" /> is exactly one grammatical sentence (see the remarks for the format).</summary>
    /// <param name="sentence">One sentence, e.g. "The cats sleep."</param>
    public bool IsValidSentence(string sentence)
    {
        ArgumentNullException.ThrowIfNull(sentence);
        return IsValidSentence(sentence.AsSpan());
    }

    /// <summary>
    /// Whether <paramref name="text" /> is a non-empty sequence of grammatical sentences with nothing after the last "."
    /// (whitespace between sentences is ignored). Empty or whitespace-only text is not valid.
    /// </summary>
    /// <param name="text">Text such as a generated document.</param>
    public bool IsValidText(string text)
    {
        var result = Analyze(text);
        return result.TotalSentences > 0 && result.InvalidSentences == 0 && !result.HasTrailingFragment;
    }

    /// <summary>
    /// Counts the sentences of <paramref name="text" /> and the valid ones. A trailing fragment after the last "." is ignored
    /// (see the remarks); empty text gives 0 sentences and a validity rate of 0.
    /// </summary>
    /// <param name="text">Text such as a model's sample.</param>
    public RecognitionResult Analyze(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int total = 0, valid = 0, start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '.')
            {
                total++;
                if (IsValidSentence(text.AsSpan(start, i + 1 - start)))
                {
                    valid++;
                }

                start = i + 1;
            }
        }

        bool fragment = !text.AsSpan(start).IsWhiteSpace();
        return new RecognitionResult(total, valid, fragment);
    }

    /// <summary>
    /// The validity rate pooled over the sentences of all <paramref name="samples" /> (each analysed by
    /// <see cref="Analyze" />, so each sample's trailing fragment is ignored): valid / total in [0, 1], or 0 when no sentence
    /// was counted.
    /// </summary>
    /// <param name="samples">Texts, e.g. one per generated sequence.</param>
    public double ValidityRate(IEnumerable<string> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        long total = 0, valid = 0;
        foreach (var sample in samples)
        {
            var r = Analyze(sample);
            total += r.TotalSentences;
            valid += r.ValidSentences;
        }

        return total == 0 ? 0 : (double)valid / total;
    }

    private bool IsValidSentence(ReadOnlySpan<char> sentence)
    {
        var words = Tokenize(sentence);
        return words is not null && new Parser(words, this).AcceptsSentence();
    }

    /// <summary>Splits and looks up the words; null when the format is wrong, a word is unknown, or there are too many.</summary>
    private WordInfo[]? Tokenize(ReadOnlySpan<char> sentence)
    {
        sentence = sentence.Trim();
        if (sentence.Length < 2 || sentence[^1] != '.')
        {
            return null;
        }

        sentence = sentence[..^1];
        if (sentence.Length == 0 || char.IsWhiteSpace(sentence[^1]))
        {
            return null; // "." must be attached to the last word.
        }

        var words = new List<WordInfo>(16);
        foreach (var range in sentence.SplitAny(" \t\r\n\f\v"))
        {
            var token = sentence[range];
            if (token.IsEmpty)
            {
                continue;
            }

            if (words.Count == _maxWords)
            {
                return null;
            }

            string form;
            if (words.Count == 0)
            {
                if (token[0] is < 'A' or > 'Z')
                {
                    return null;
                }

                form = string.Concat([char.ToLowerInvariant(token[0])], token[1..]);
            }
            else
            {
                form = token.ToString();
            }

            if (!Lexicon.Words.TryGetValue(form, out var info))
            {
                return null;
            }

            words.Add(info);
        }

        return words.Count == 0 ? null : [.. words];
    }

    /// <summary>One parse: the word list and the bounds. Each method returns the mask of positions where its phrase can end.</summary>
    private readonly struct Parser(WordInfo[] words, GrammarRecognizer bounds)
    {
        private readonly int _n = words.Length;

        public bool AcceptsSentence()
        {
            ulong frontier = Clause(0);
            ulong accepted = frontier;
            for (int c = 1; c < bounds._maxClauses && frontier != 0; c++)
            {
                ulong next = 0;
                foreach (int e in Positions(frontier))
                {
                    if (At(e).Category == WordCategory.Conjunction)
                    {
                        next |= Clause(e + 1);
                    }
                }

                frontier = next;
                accepted |= next;
            }

            return (accepted & Bit(_n)) != 0;
        }

        private static ulong Bit(int position) => 1UL << position;

        private static IEnumerable<int> Positions(ulong mask)
        {
            while (mask != 0)
            {
                yield return BitOperations.TrailingZeroCount(mask);
                mask &= mask - 1;
            }
        }

        private WordInfo At(int position) => position < _n ? words[position] : NoWord;

        private ulong Clause(int position)
        {
            ulong ends = 0;
            foreach (var number in (ReadOnlySpan<GrammaticalNumber>)[GrammaticalNumber.Singular, GrammaticalNumber.Plural])
            {
                foreach (int e in Positions(NounPhrase(position, 0, number)))
                {
                    ends |= VerbPhrase(e, 0, number);
                }
            }

            return ends;
        }

        private ulong AnyNounPhrase(int position, int depth) =>
            NounPhrase(position, depth, GrammaticalNumber.Singular) | NounPhrase(position, depth, GrammaticalNumber.Plural);

        private ulong NounPhrase(int position, int depth, GrammaticalNumber number)
        {
            var determiner = At(position);
            if (determiner.Category != WordCategory.Determiner || (determiner.Number & number) == 0)
            {
                return 0;
            }

            int p = position + 1;
            var next = At(p);
            if ((determiner.Form == Lexicon.IndefiniteA && next.VowelInitial) ||
                (determiner.Form == Lexicon.IndefiniteAn && !next.VowelInitial))
            {
                return 0;
            }

            for (; At(p).Category == WordCategory.Adjective; p++)
            {
                if (p - position > bounds._maxAdjectives)
                {
                    return 0;
                }

                for (int q = position + 1; q < p; q++)
                {
                    if (words[q].Form == words[p].Form)
                    {
                        return 0;
                    }
                }
            }

            var noun = At(p);
            if (noun.Category != WordCategory.Noun || noun.Number != number)
            {
                return 0;
            }

            ulong ends = Bit(p + 1);
            if (depth < bounds._maxDepth)
            {
                ends |= PrepositionalPhrase(p + 1, depth);
                ulong relative = 0;
                foreach (int e in Positions(ends))
                {
                    relative |= RelativeClause(e, depth, number, noun.Animate);
                }

                ends |= relative;
            }

            return ends;
        }

        private ulong PrepositionalPhrase(int position, int depth) =>
            At(position).Category == WordCategory.Preposition ? AnyNounPhrase(position + 1, depth + 1) : 0;

        private ulong RelativeClause(int position, int depth, GrammaticalNumber headNumber, bool headAnimate)
        {
            var pronoun = At(position);
            if (pronoun.Category != WordCategory.RelativePronoun || (pronoun.Form == Lexicon.Who && !headAnimate))
            {
                return 0;
            }

            // Subject relative: the clause's verb agrees with the head noun.
            ulong ends = VerbPhrase(position + 1, depth + 1, headNumber);

            // Object relative: a subject, then a transitive verb agreeing with it; the head noun is the missing object.
            foreach (var number in (ReadOnlySpan<GrammaticalNumber>)[GrammaticalNumber.Singular, GrammaticalNumber.Plural])
            {
                foreach (int e in Positions(NounPhrase(position + 1, depth + 1, number)))
                {
                    var verb = At(e);
                    if (verb.Category == WordCategory.TransitiveVerb && verb.Number == number)
                    {
                        ends |= Bit(e + 1);
                    }
                }
            }

            return ends;
        }

        private ulong VerbPhrase(int position, int depth, GrammaticalNumber number)
        {
            var verb = At(position);
            if (verb.Number != number)
            {
                return 0;
            }

            ulong ends = verb.Category switch
            {
                WordCategory.IntransitiveVerb => Bit(position + 1),
                WordCategory.TransitiveVerb => AnyNounPhrase(position + 1, depth),
                _ => 0,
            };

            ulong adverb = 0;
            foreach (int e in Positions(ends))
            {
                if (At(e).Category == WordCategory.Adverb)
                {
                    adverb |= Bit(e + 1);
                }
            }

            ends |= adverb;
            if (depth < bounds._maxDepth)
            {
                ulong prepositional = 0;
                foreach (int e in Positions(ends))
                {
                    prepositional |= PrepositionalPhrase(e, depth);
                }

                ends |= prepositional;
            }

            return ends;
        }
    }
}
