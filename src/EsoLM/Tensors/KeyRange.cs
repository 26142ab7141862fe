namespace EsoLM.Tensors;

/// <summary>
/// The keys one query may attend to: the union of the slot ranges [<see cref="Start0"/>, <see cref="End0"/>) and
/// [<see cref="Start1"/>, <see cref="End1"/>). Every attention mask of Eso-LMs is such a union of at most two ranges
/// (causal, mixed2, the 2L sequential mask and its prefix-LM form), so this is exact and lets attention skip masked keys.
/// Empty ranges have Start == End. The two ranges must not overlap.
/// </summary>
/// <param name="Start0">First range start (inclusive).</param>
/// <param name="End0">First range end (exclusive).</param>
/// <param name="Start1">Second range start (inclusive).</param>
/// <param name="End1">Second range end (exclusive).</param>
public readonly record struct KeyRange(int Start0, int End0, int Start1, int End1)
{
    /// <summary>A single range [start, end).</summary>
    public static KeyRange Of(int start, int end) => new(start, end, end, end);

    /// <summary>Number of visible keys.</summary>
    public int Count => (End0 - Start0) + (End1 - Start1);

    /// <summary>Whether key slot <paramref name="key"/> is visible.</summary>
    public bool Contains(int key) => (key >= Start0 && key < End0) || (key >= Start1 && key < End1);

    /// <summary>One past the largest visible slot (0 when empty).</summary>
    public int MaxEnd => Math.Max(End0 > Start0 ? End0 : 0, End1 > Start1 ? End1 : 0);
}
