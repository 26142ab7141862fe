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

/// <summary>A tokenizer's path for text that holds no special tokens (its span [start, end) of the whole text).</summary>
internal interface IOrdinaryEncoder
{
    /// <summary>Appends the ids of text[start..end]; false when the writer is full.</summary>
    bool Encode(ReadOnlySpan<char> text, int start, int end, ref IdWriter writer);
}

/// <summary>
/// The encode path every tokenizer shares: split the text at special tokens (when allowed), hand the ordinary stretches
/// to the tokenizer's own encoder, and write into a growable or caller-given buffer.
/// </summary>
internal static class SpecialAwareEncoding
{
    /// <summary>Allocating encode.</summary>
    public static int[] Encode<T>(SpecialTokenScanner scanner, T encoder, string text, bool allowSpecial, int initialCapacity)
        where T : struct, IOrdinaryEncoder
    {
        ArgumentNullException.ThrowIfNull(text);
        var writer = IdWriter.CreateGrowable(initialCapacity);
        try
        {
            Run(scanner, encoder, text, ref writer, allowSpecial);
            return writer.ToArrayAndDispose();
        }
        finally
        {
            writer.Dispose();
        }
    }

    /// <summary>Encode into <paramref name="destination"/>; false (and 0 written) when it is too small.</summary>
    public static bool TryEncode<T>(SpecialTokenScanner scanner, T encoder, ReadOnlySpan<char> text, Span<int> destination, out int written,
        bool allowSpecial)
        where T : struct, IOrdinaryEncoder
    {
        var writer = new IdWriter(destination);
        if (!Run(scanner, encoder, text, ref writer, allowSpecial))
        {
            written = 0;
            return false;
        }

        written = writer.Count;
        return true;
    }

    private static bool Run<T>(SpecialTokenScanner scanner, T encoder, ReadOnlySpan<char> text, ref IdWriter writer, bool allowSpecial)
        where T : struct, IOrdinaryEncoder
    {
        if (!allowSpecial || scanner.Count == 0)
        {
            return encoder.Encode(text, 0, text.Length, ref writer);
        }

        // The cache lives on the stack for the usual handful of special tokens; a vocabulary that declares millions rents it.
        int[]? rented = scanner.Count > 256 ? System.Buffers.ArrayPool<int>.Shared.Rent(scanner.Count) : null;
        try
        {
            return Scan(scanner, encoder, text, ref writer, rented is null ? stackalloc int[scanner.Count] : rented.AsSpan(0, scanner.Count));
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<int>.Shared.Return(rented);
            }
        }
    }

    private static bool Scan<T>(SpecialTokenScanner scanner, T encoder, ReadOnlySpan<char> text, ref IdWriter writer, scoped Span<int> cache)
        where T : struct, IOrdinaryEncoder
    {
        cache.Fill(-1);
        int position = 0;
        while (true)
        {
            int next = scanner.FindNext(text, position, cache, out int length, out int id);
            int end = next < 0 ? text.Length : next;
            if (!encoder.Encode(text, position, end, ref writer))
            {
                return false;
            }

            if (next < 0)
            {
                return true;
            }

            if (!writer.Add(id))
            {
                return false;
            }

            position = next + length;
        }
    }
}
