using System.Text;
using EsoLM.Randomness;

namespace EsoLM.Data;

/// <summary>
/// Samples sentences of the built-in language (see <see cref="BuiltInLanguage" />) from a seeded, deterministic stochastic
/// grammar:
/// <code>
/// Sentence → Clause (("and" | "but") Clause){0, MaxClauses−1} "."
/// Clause   → NP[n, 0] VP[n, 0]                                   (n = singular or plural: subject–verb agreement)
/// NP[n, d] → Det[n] Adj{0, MaxAdjectives} Noun[n] PP[d]? RC[n, d]?  (PP, RC only when d &lt; MaxDepth; adjectives distinct;
///                                                                  "a" before a consonant, "an" before a vowel)
/// VP[n, d] → IVerb[n] Adv? PP[d]?  |  TVerb[n] NP[any, d] Adv? PP[d]?
/// PP[d]    → Prep NP[any, d+1]
/// RC[n, d] → Rel VP[n, d+1]  |  Rel NP[m, d+1] TVerb[m]            ("who" only on an animate head noun; "that" on any)
/// </code>
/// The first word is capitalised and the sentence ends with "."; sentences longer than <see cref="GrammarOptions.MaxWords" />
/// words are redrawn. The random stream is SplitMix64, so the output for a seed never changes across runtimes.
/// Not thread-safe.
/// </summary>
public sealed class GrammarGenerator
{
    // Redraws before giving up on options that cannot fit a sentence into MaxWords (only extreme probabilities reach this).
    private const int MaxAttempts = 100_000;

    private readonly List<string> _words = new(GrammarOptions.WordLimit);
    private readonly string[] _adjectivePicks = new string[GrammarOptions.AdjectiveLimit];
    private SplitMix64 _random;

    /// <summary>Creates a generator.</summary>
    /// <param name="seed">Seed of the random stream; equal seeds and options give equal text.</param>
    /// <param name="options">Bounds and probabilities; <see cref="GrammarOptions.Default" /> when null.</param>
    internal GrammarGenerator(ulong seed, GrammarOptions? options = null)
    {
        Seed = seed;
        Options = options ?? GrammarOptions.Default;
        _random = new SplitMix64(seed);
    }

    /// <summary>The seed this generator started from.</summary>
    public ulong Seed { get; }

    /// <summary>The options in use.</summary>
    internal GrammarOptions Options { get; }

    /// <summary>Draws one sentence, e.g. "The cat that the dogs chase sleeps."</summary>
    /// <exception cref="InvalidOperationException">The options never produced a sentence within MaxWords words.</exception>
    public string NextSentence()
    {
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            _words.Clear();
            Sentence();
            if (_words.Count <= Options.MaxWords)
            {
                return Format(_words);
            }
        }

        throw new InvalidOperationException(
            $"No sentence of at most {Options.MaxWords} words in {MaxAttempts} draws; lower the phrase probabilities or raise MaxWords.");
    }

    /// <summary>Draws a document: <paramref name="sentences" /> sentences separated by single spaces.</summary>
    /// <param name="sentences">Number of sentences, at least 1.</param>
    public string NextDocument(int sentences)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sentences);
        var sb = new StringBuilder();
        for (int i = 0; i < sentences; i++)
        {
            if (i > 0)
            {
                sb.Append(' ');
            }

            sb.Append(NextSentence());
        }

        return sb.ToString();
    }

    /// <summary>
    /// Lazily draws <paramref name="count" /> documents of <paramref name="sentencesPerDocument" /> sentences each. The
    /// sequence draws from this generator as it is enumerated, so enumerate it once.
    /// </summary>
    /// <param name="count">Number of documents, at least 0.</param>
    /// <param name="sentencesPerDocument">Sentences per document, at least 1.</param>
    public IEnumerable<string> Documents(int count, int sentencesPerDocument)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sentencesPerDocument);
        return Iterate(count, sentencesPerDocument);
    }

    private IEnumerable<string> Iterate(int count, int sentencesPerDocument)
    {
        for (int i = 0; i < count; i++)
        {
            yield return NextDocument(sentencesPerDocument);
        }
    }

    /// <summary>Joins words with single spaces, capitalises the first letter and appends the period.</summary>
    internal static string Format(IReadOnlyList<string> words)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < words.Count; i++)
        {
            if (i > 0)
            {
                sb.Append(' ');
            }

            sb.Append(words[i]);
        }

        sb[0] = char.ToUpperInvariant(sb[0]);
        return sb.Append('.').ToString();
    }

    private void Sentence()
    {
        Clause();
        for (int c = 1; c < Options.MaxClauses && _random.Chance(Options.CoordinationProbability); c++)
        {
            _words.Add(_random.Pick(Lexicon.Conjunctions));
            Clause();
        }
    }

    private void Clause()
    {
        bool plural = _random.Chance(Options.PluralProbability);
        NounPhrase(plural, 0);
        VerbPhrase(plural, 0);
    }

    private void NounPhrase(bool plural, int depth)
    {
        var noun = _random.Pick(plural ? Lexicon.PluralNouns : Lexicon.SingularNouns);
        int adjectives = 0;
        while (adjectives < Options.MaxAdjectives && _random.Chance(Options.AdjectiveProbability))
        {
            string adjective;
            do
            {
                adjective = _random.Pick(Lexicon.Adjectives);
            }
            while (Array.IndexOf(_adjectivePicks, adjective, 0, adjectives) >= 0);
            _adjectivePicks[adjectives++] = adjective;
        }

        string determiner = _random.Pick(plural ? Lexicon.PluralDeterminers : Lexicon.SingularDeterminers).Form;
        if (determiner == Lexicon.IndefiniteA)
        {
            determiner = Lexicon.IndefiniteArticleFor(adjectives > 0 ? _adjectivePicks[0] : noun.Form);
        }

        _words.Add(determiner);
        for (int i = 0; i < adjectives; i++)
        {
            _words.Add(_adjectivePicks[i]);
        }

        _words.Add(noun.Form);
        if (depth < Options.MaxDepth && _random.Chance(Options.PrepositionalPhraseProbability))
        {
            PrepositionalPhrase(depth);
        }

        if (depth < Options.MaxDepth && _random.Chance(Options.RelativeClauseProbability))
        {
            RelativeClause(plural, noun.Animate, depth);
        }
    }

    private void PrepositionalPhrase(int depth)
    {
        _words.Add(_random.Pick(Lexicon.Prepositions));
        NounPhrase(_random.Chance(Options.PluralProbability), depth + 1);
    }

    private void RelativeClause(bool headPlural, bool headAnimate, int depth)
    {
        _words.Add(headAnimate && _random.Chance(0.5) ? Lexicon.Who : Lexicon.That);
        if (_random.Chance(Options.ObjectRelativeProbability))
        {
            // Object relative: the head noun is the object of the clause's verb, which agrees with the clause's subject.
            bool plural = _random.Chance(Options.PluralProbability);
            NounPhrase(plural, depth + 1);
            _words.Add(_random.Pick(plural ? Lexicon.PluralTransitive : Lexicon.SingularTransitive));
        }
        else
        {
            VerbPhrase(headPlural, depth + 1);
        }
    }

    private void VerbPhrase(bool plural, int depth)
    {
        if (_random.Chance(Options.TransitiveProbability))
        {
            _words.Add(_random.Pick(plural ? Lexicon.PluralTransitive : Lexicon.SingularTransitive));
            NounPhrase(_random.Chance(Options.PluralProbability), depth);
        }
        else
        {
            _words.Add(_random.Pick(plural ? Lexicon.PluralIntransitive : Lexicon.SingularIntransitive));
        }

        if (_random.Chance(Options.AdverbProbability))
        {
            _words.Add(_random.Pick(Lexicon.Adverbs));
        }

        if (depth < Options.MaxDepth && _random.Chance(Options.PrepositionalPhraseProbability))
        {
            PrepositionalPhrase(depth);
        }
    }
}
