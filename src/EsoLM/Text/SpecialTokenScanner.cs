namespace EsoLM.Text;

/// <summary>Finds special-token occurrences in text (earliest first, longest on a tie).</summary>
internal sealed class SpecialTokenScanner
{
    private readonly string[] _texts;
    private readonly int[] _ids;

    public SpecialTokenScanner(IReadOnlyDictionary<string, int> specials)
    {
        _texts = [.. specials.Keys.Where(k => k.Length > 0).OrderBy(k => k, StringComparer.Ordinal)];
        _ids = [.. _texts.Select(k => specials[k])];
    }

    /// <summary>Number of special tokens (the size of the cache span <see cref="FindNext"/> needs).</summary>
    public int Count => _texts.Length;

    /// <summary>
    /// Finds the next special token at or after <paramref name="start"/>. <paramref name="cache"/> (length <see cref="Count"/>,
    /// filled with -1 before the first call on a text) remembers the next occurrence of each token between calls.
    /// </summary>
    /// <returns>The index of the occurrence, or -1; <paramref name="length"/> and <paramref name="id"/> describe the token.</returns>
    public int FindNext(ReadOnlySpan<char> text, int start, Span<int> cache, out int length, out int id)
    {
        var best = -1;
        length = 0;
        id = -1;
        for (var k = 0; k < _texts.Length; k++)
        {
            var position = cache[k];
            if (position != int.MaxValue && position < start)
            {
                var found = text[start..].IndexOf(_texts[k], StringComparison.Ordinal);
                position = found < 0 ? int.MaxValue : start + found;
                cache[k] = position;
            }

            if (position == int.MaxValue)
            {
                continue;
            }

            if (best < 0 || position < best || (position == best && _texts[k].Length > length))
            {
                best = position;
                length = _texts[k].Length;
                id = _ids[k];
            }
        }

        return best;
    }
}
