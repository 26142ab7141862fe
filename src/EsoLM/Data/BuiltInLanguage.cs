namespace EsoLM.Data;

/// <summary>
/// The built-in language: a small synthetic English-like language (about 250 word forms) whose sentences have number
/// agreement, transitivity, "a"/"an" choice, bounded adjectives, prepositional phrases, relative clauses and clause
/// coordination, so word order matters. It serves as the demo corpus and, through <see cref="Recognizer" />, as a quality
/// measure for generated text (the fraction of grammatical sentences).
/// </summary>
public static class BuiltInLanguage
{
    /// <summary>The language's name, "builtin:grammar".</summary>
    public const string Name = "builtin:grammar";

    /// <summary>The separator <see cref="Corpus" /> puts between documents.</summary>
    public const char DocumentSeparator = '\n';

    private static readonly char[] AlphabetChars = BuildAlphabet();

    private static readonly string[] WordList = [.. Lexicon.Words.Keys.Order(StringComparer.Ordinal)];

    /// <summary>A recognizer for the language under <see cref="GrammarOptions.Default" /> bounds.</summary>
    public static GrammarRecognizer Recognizer { get; } = new();

    /// <summary>
    /// Every character the language's text can contain, in ordinal order: the lower-case letters of the lexicon, the
    /// upper-case initials of the words that can begin a sentence (the determiners), ' ', '.' and the document separator
    /// '\n'. Fixed by the lexicon, so a character tokenizer built from it is deterministic.
    /// </summary>
    public static IReadOnlyList<char> Alphabet => AlphabetChars;

    /// <summary>Every word form of the lexicon (lower-case), in ordinal order.</summary>
    public static IReadOnlyList<string> Words => WordList;

    /// <summary>Creates a seeded generator of the language, with the default bounds and probabilities.</summary>
    /// <param name="seed">Seed; equal seeds give equal text.</param>
    /// <returns>The generator.</returns>
    public static GrammarGenerator CreateGenerator(ulong seed) => new(seed, null);

    /// <summary>Creates a seeded generator of the language with other bounds and probabilities (tests, experiments).</summary>
    /// <param name="seed">Seed; equal seeds and options give equal text.</param>
    /// <param name="options">Bounds and probabilities; <see cref="GrammarOptions.Default" /> when null.</param>
    internal static GrammarGenerator CreateGenerator(ulong seed, GrammarOptions? options) => new(seed, options);

    /// <summary>
    /// A corpus of <paramref name="documents" /> documents of <paramref name="sentencesPerDocument" /> sentences each, drawn
    /// with default options from <paramref name="seed" /> and joined by <see cref="DocumentSeparator" />.
    /// </summary>
    /// <param name="seed">Seed.</param>
    /// <param name="documents">Number of documents, at least 0 (0 gives the empty string).</param>
    /// <param name="sentencesPerDocument">Sentences per document, at least 1.</param>
    public static string Corpus(ulong seed, int documents, int sentencesPerDocument)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(documents);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sentencesPerDocument);
        return string.Join(DocumentSeparator, CreateGenerator(seed).Documents(documents, sentencesPerDocument));
    }

    private static char[] BuildAlphabet()
    {
        var set = new SortedSet<char> { ' ', '.', DocumentSeparator };
        foreach (var (form, info) in Lexicon.Words)
        {
            set.UnionWith(form);
            if (info.Category == WordCategory.Determiner)
            {
                set.Add(char.ToUpperInvariant(form[0]));
            }
        }

        return [.. set];
    }
}
