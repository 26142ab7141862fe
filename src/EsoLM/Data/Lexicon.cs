using System.Collections.Frozen;

namespace EsoLM.Data;

/// <summary>The part of speech of a word form of the built-in language. Every word form has exactly one.</summary>
internal enum WordCategory
{
    Determiner,
    Adjective,
    Noun,
    IntransitiveVerb,
    TransitiveVerb,
    Adverb,
    Preposition,
    RelativePronoun,
    Conjunction,
}

/// <summary>Grammatical number a determiner, noun or verb form agrees with.</summary>
[Flags]
internal enum GrammaticalNumber
{
    None = 0,
    Singular = 1,
    Plural = 2,
    Both = Singular | Plural,
}

/// <summary>One word form and its features.</summary>
/// <param name="Form">The lower-case spelling.</param>
/// <param name="Category">Part of speech.</param>
/// <param name="Number">Number(s) the form agrees with (determiners, nouns, verbs).</param>
/// <param name="Animate">For nouns: whether "who" may introduce a relative clause on it.</param>
internal readonly record struct WordInfo(string Form, WordCategory Category, GrammaticalNumber Number, bool Animate)
{
    /// <summary>Whether the form begins with a vowel letter, which selects "an" over "a".</summary>
    public bool VowelInitial => Form.Length > 0 && Lexicon.IsVowel(Form[0]);
}

/// <summary>
/// The word list of the built-in language, written for this library. Each spelling belongs to exactly one category and one
/// number (except "the", which takes both), so agreement is decided by the form alone.
/// </summary>
internal static class Lexicon
{
    /// <summary>The indefinite article used before a consonant-initial word.</summary>
    public const string IndefiniteA = "a";

    /// <summary>The indefinite article used before a vowel-initial word.</summary>
    public const string IndefiniteAn = "an";

    // (singular, plural, animate)
    private static readonly (string Singular, string Plural, bool Animate)[] NounTable =
    [
        ("cat", "cats", true), ("dog", "dogs", true), ("bird", "birds", true), ("fox", "foxes", true),
        ("horse", "horses", true), ("mouse", "mice", true), ("child", "children", true), ("farmer", "farmers", true),
        ("teacher", "teachers", true), ("girl", "girls", true), ("boy", "boys", true), ("king", "kings", true),
        ("queen", "queens", true), ("baker", "bakers", true), ("sailor", "sailors", true), ("owl", "owls", true),
        ("eagle", "eagles", true), ("rabbit", "rabbits", true), ("wolf", "wolves", true), ("bear", "bears", true),
        ("goat", "goats", true), ("duck", "ducks", true), ("frog", "frogs", true), ("woman", "women", true),
        ("man", "men", true), ("doctor", "doctors", true), ("student", "students", true), ("artist", "artists", true),
        ("uncle", "uncles", true), ("elephant", "elephants", true), ("ant", "ants", true),
        ("house", "houses", false), ("tree", "trees", false), ("river", "rivers", false), ("box", "boxes", false),
        ("garden", "gardens", false), ("city", "cities", false), ("road", "roads", false), ("stone", "stones", false),
        ("apple", "apples", false), ("book", "books", false), ("table", "tables", false), ("hill", "hills", false),
        ("boat", "boats", false), ("lamp", "lamps", false), ("window", "windows", false), ("cup", "cups", false),
        ("forest", "forests", false), ("field", "fields", false), ("bridge", "bridges", false),
        ("island", "islands", false), ("egg", "eggs", false), ("basket", "baskets", false),
    ];

    private static readonly (string Singular, string Plural)[] IntransitiveTable =
    [
        ("sleeps", "sleep"), ("runs", "run"), ("sings", "sing"), ("waits", "wait"), ("laughs", "laugh"),
        ("jumps", "jump"), ("swims", "swim"), ("falls", "fall"), ("dances", "dance"), ("smiles", "smile"),
        ("cries", "cry"), ("rests", "rest"), ("walks", "walk"), ("hides", "hide"), ("arrives", "arrive"),
        ("sneezes", "sneeze"), ("wanders", "wander"), ("shivers", "shiver"),
    ];

    private static readonly (string Singular, string Plural)[] TransitiveTable =
    [
        ("sees", "see"), ("chases", "chase"), ("likes", "like"), ("finds", "find"), ("carries", "carry"),
        ("watches", "watch"), ("helps", "help"), ("follows", "follow"), ("paints", "paint"), ("builds", "build"),
        ("visits", "visit"), ("pushes", "push"), ("holds", "hold"), ("loves", "love"), ("fears", "fear"),
        ("catches", "catch"), ("knows", "know"), ("feeds", "feed"), ("greets", "greet"), ("admires", "admire"),
    ];

    private static readonly string[] AdjectiveList =
    [
        "big", "small", "old", "young", "red", "green", "happy", "quiet", "brave", "clever", "tired", "angry",
        "little", "empty", "gentle", "odd",
    ];

    private static readonly string[] AdverbList =
    [
        "quickly", "slowly", "quietly", "happily", "loudly", "often", "today", "again", "early", "gently",
    ];

    private static readonly string[] PrepositionList = ["in", "on", "near", "under", "behind", "with", "from", "beside"];

    private static readonly (string Form, GrammaticalNumber Number)[] DeterminerTable =
    [
        (IndefiniteA, GrammaticalNumber.Singular), (IndefiniteAn, GrammaticalNumber.Singular),
        ("the", GrammaticalNumber.Both), ("every", GrammaticalNumber.Singular), ("each", GrammaticalNumber.Singular),
        ("this", GrammaticalNumber.Singular), ("one", GrammaticalNumber.Singular),
        ("two", GrammaticalNumber.Plural), ("three", GrammaticalNumber.Plural), ("some", GrammaticalNumber.Plural),
        ("many", GrammaticalNumber.Plural), ("these", GrammaticalNumber.Plural), ("several", GrammaticalNumber.Plural),
    ];

    /// <summary>Coordinating conjunctions joining two clauses (declared before <see cref="Words" />, which reads it).</summary>
    public static readonly string[] Conjunctions = ["and", "but"];

    /// <summary>Relative pronoun usable on any head noun.</summary>
    public const string That = "that";

    /// <summary>Relative pronoun usable only on animate head nouns.</summary>
    public const string Who = "who";

    /// <summary>All word forms by spelling.</summary>
    public static readonly FrozenDictionary<string, WordInfo> Words = Build();

    /// <summary>Determiners (a single entry stands for both "a" and "an"; the article is chosen by the next word).</summary>
    public static readonly WordInfo[] SingularDeterminers = DeterminerChoices(GrammaticalNumber.Singular);

    /// <summary>Determiners usable with a plural noun.</summary>
    public static readonly WordInfo[] PluralDeterminers = DeterminerChoices(GrammaticalNumber.Plural);

    /// <summary>Singular and plural noun forms, in parallel.</summary>
    public static readonly WordInfo[] SingularNouns = [.. NounTable.Select(n => Words[n.Singular])];

    /// <inheritdoc cref="SingularNouns" />
    public static readonly WordInfo[] PluralNouns = [.. NounTable.Select(n => Words[n.Plural])];

    /// <summary>Intransitive verb forms by number.</summary>
    public static readonly string[] SingularIntransitive = [.. IntransitiveTable.Select(v => v.Singular)];

    /// <inheritdoc cref="SingularIntransitive" />
    public static readonly string[] PluralIntransitive = [.. IntransitiveTable.Select(v => v.Plural)];

    /// <summary>Transitive verb forms by number.</summary>
    public static readonly string[] SingularTransitive = [.. TransitiveTable.Select(v => v.Singular)];

    /// <inheritdoc cref="SingularTransitive" />
    public static readonly string[] PluralTransitive = [.. TransitiveTable.Select(v => v.Plural)];

    /// <summary>Adjectives.</summary>
    public static IReadOnlyList<string> Adjectives => AdjectiveList;

    /// <summary>Adverbs.</summary>
    public static IReadOnlyList<string> Adverbs => AdverbList;

    /// <summary>Prepositions.</summary>
    public static IReadOnlyList<string> Prepositions => PrepositionList;

    /// <summary>Whether <paramref name="c" /> is one of a, e, i, o, u.</summary>
    public static bool IsVowel(char c) => c is 'a' or 'e' or 'i' or 'o' or 'u';

    /// <summary>The indefinite article that must precede <paramref name="next" />.</summary>
    public static string IndefiniteArticleFor(string next) => IsVowel(next[0]) ? IndefiniteAn : IndefiniteA;

    private static WordInfo[] DeterminerChoices(GrammaticalNumber number) =>
        [.. DeterminerTable.Where(d => (d.Number & number) != 0 && d.Form != IndefiniteAn).Select(d => Words[d.Form])];

    private static FrozenDictionary<string, WordInfo> Build()
    {
        var words = new Dictionary<string, WordInfo>(StringComparer.Ordinal);

        // Add throws on a duplicate spelling: every form must have one category and one number.
        void Add(string form, WordCategory category, GrammaticalNumber number = GrammaticalNumber.None, bool animate = false) =>
            words.Add(form, new WordInfo(form, category, number, animate));

        foreach (var (form, number) in DeterminerTable)
        {
            Add(form, WordCategory.Determiner, number);
        }

        foreach (var (singular, plural, animate) in NounTable)
        {
            Add(singular, WordCategory.Noun, GrammaticalNumber.Singular, animate);
            Add(plural, WordCategory.Noun, GrammaticalNumber.Plural, animate);
        }

        foreach (var (singular, plural) in IntransitiveTable)
        {
            Add(singular, WordCategory.IntransitiveVerb, GrammaticalNumber.Singular);
            Add(plural, WordCategory.IntransitiveVerb, GrammaticalNumber.Plural);
        }

        foreach (var (singular, plural) in TransitiveTable)
        {
            Add(singular, WordCategory.TransitiveVerb, GrammaticalNumber.Singular);
            Add(plural, WordCategory.TransitiveVerb, GrammaticalNumber.Plural);
        }

        foreach (var a in AdjectiveList)
        {
            Add(a, WordCategory.Adjective);
        }

        foreach (var a in AdverbList)
        {
            Add(a, WordCategory.Adverb);
        }

        foreach (var p in PrepositionList)
        {
            Add(p, WordCategory.Preposition);
        }

        Add(That, WordCategory.RelativePronoun);
        Add(Who, WordCategory.RelativePronoun);
        foreach (var c in Conjunctions)
        {
            Add(c, WordCategory.Conjunction);
        }

        return words.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
