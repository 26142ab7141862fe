namespace EsoLM.Data;

/// <summary>
/// Bounds and probabilities of the built-in grammar. The four bounds (<see cref="MaxAdjectives" />, <see cref="MaxDepth" />,
/// <see cref="MaxClauses" />, <see cref="MaxWords" />) define the language and are enforced by both
/// <see cref="GrammarGenerator" /> and <see cref="GrammarRecognizer" />; the probabilities only shape the distribution the
/// generator samples from. Every property validates its value when set.
/// </summary>
internal sealed record GrammarOptions
{
    /// <summary>Largest value accepted for <see cref="MaxAdjectives" />.</summary>
    public const int AdjectiveLimit = 4;

    /// <summary>Largest value accepted for <see cref="MaxDepth" />.</summary>
    public const int DepthLimit = 4;

    /// <summary>Largest value accepted for <see cref="MaxClauses" />.</summary>
    public const int ClauseLimit = 4;

    /// <summary>Smallest value accepted for <see cref="MaxWords" /> (the shortest sentence: determiner, noun, verb).</summary>
    public const int MinWordsLimit = 3;

    /// <summary>Largest value accepted for <see cref="MaxWords" />.</summary>
    public const int WordLimit = 60;

    /// <summary>The defaults: sentences of about 5–20 words, at most 2 adjectives, depth 2, 2 clauses.</summary>
    public static GrammarOptions Default { get; } = new();

    /// <summary>Most adjectives before one noun, in [0, <see cref="AdjectiveLimit" />]; the same adjective may not repeat. Default 2.</summary>
    public int MaxAdjectives
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(MaxAdjectives));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, AdjectiveLimit, nameof(MaxAdjectives));
            field = value;
        }
    } = 2;

    /// <summary>
    /// Most nested embeddings, in [0, <see cref="DepthLimit" />]. A main clause is at depth 0; a prepositional phrase or
    /// relative clause may be attached to a phrase at depth d only when d &lt; MaxDepth, and its contents are at depth d + 1.
    /// Default 2.
    /// </summary>
    public int MaxDepth
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value, nameof(MaxDepth));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, DepthLimit, nameof(MaxDepth));
            field = value;
        }
    } = 2;

    /// <summary>Most clauses coordinated by "and"/"but" in one sentence, in [1, <see cref="ClauseLimit" />]. Default 2.</summary>
    public int MaxClauses
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(MaxClauses));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, ClauseLimit, nameof(MaxClauses));
            field = value;
        }
    } = 2;

    /// <summary>
    /// Most words in one sentence, in [<see cref="MinWordsLimit" />, <see cref="WordLimit" />]. The generator redraws a
    /// longer sentence; the recognizer rejects one. Default 20.
    /// </summary>
    public int MaxWords
    {
        get;
        init
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, MinWordsLimit, nameof(MaxWords));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, WordLimit, nameof(MaxWords));
            field = value;
        }
    } = 20;

    /// <summary>Probability of each further adjective before a noun (up to <see cref="MaxAdjectives" />). Default 0.4.</summary>
    public double AdjectiveProbability { get; init => field = CheckProbability(value, nameof(AdjectiveProbability)); } = 0.4;

    /// <summary>Probability that a noun phrase or verb phrase (below the depth bound) takes a prepositional phrase. Default 0.2.</summary>
    public double PrepositionalPhraseProbability { get; init => field = CheckProbability(value, nameof(PrepositionalPhraseProbability)); } = 0.2;

    /// <summary>Probability that a noun phrase (below the depth bound) takes a relative clause. Default 0.12.</summary>
    public double RelativeClauseProbability { get; init => field = CheckProbability(value, nameof(RelativeClauseProbability)); } = 0.12;

    /// <summary>
    /// Probability that a relative clause is an object relative ("the cat that the dogs chase") rather than a subject
    /// relative ("the cat that chases the dogs"). Default 0.35.
    /// </summary>
    public double ObjectRelativeProbability { get; init => field = CheckProbability(value, nameof(ObjectRelativeProbability)); } = 0.35;

    /// <summary>Probability that a verb phrase uses a transitive verb (with an object). Default 0.65.</summary>
    public double TransitiveProbability { get; init => field = CheckProbability(value, nameof(TransitiveProbability)); } = 0.65;

    /// <summary>Probability that a verb phrase takes an adverb. Default 0.25.</summary>
    public double AdverbProbability { get; init => field = CheckProbability(value, nameof(AdverbProbability)); } = 0.25;

    /// <summary>Probability of each further coordinated clause (up to <see cref="MaxClauses" />). Default 0.25.</summary>
    public double CoordinationProbability { get; init => field = CheckProbability(value, nameof(CoordinationProbability)); } = 0.25;

    /// <summary>Probability that a noun phrase is plural. Default 0.45.</summary>
    public double PluralProbability { get; init => field = CheckProbability(value, nameof(PluralProbability)); } = 0.45;

    private static double CheckProbability(double value, string name)
    {
        if (!(value >= 0 && value <= 1))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be a probability in [0, 1].");
        }

        return value;
    }
}
