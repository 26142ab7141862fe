using System.Buffers;
using System.Collections.ObjectModel;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Text;

/// <summary>
/// Base of EsoLM's own <see cref="Tokenizer"/>s (byte, char, word): a fixed vocabulary of ids
/// <c>0 .. VocabularySize - 1</c>, a few special tokens, and a self-contained <see cref="Describe">description</see>.
/// Whether special-token text in the input becomes the special id is fixed at construction
/// (<see cref="AllowSpecialTokens"/>); otherwise it is encoded as ordinary text. Instances are immutable and thread-safe.
/// </summary>
public abstract class EsoLmTokenizer : Tokenizer
{
    private readonly string[] _specialTexts;
    private readonly int[] _specialIds;

    /// <summary>Creates the base with the tokenizer's special tokens.</summary>
    /// <param name="specialTokens">The special tokens (text and id).</param>
    /// <param name="allowSpecialTokens">Whether special-token text in the input becomes the special id.</param>
    protected EsoLmTokenizer(IReadOnlyDictionary<string, int> specialTokens, bool allowSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(specialTokens);
        var copy = new Dictionary<string, int>(specialTokens, StringComparer.Ordinal);
        SpecialTokens = new ReadOnlyDictionary<string, int>(copy);
        _specialTexts = [.. copy.Keys.Where(k => k.Length > 0).OrderBy(k => k, StringComparer.Ordinal)];
        _specialIds = [.. _specialTexts.Select(k => copy[k])];
        AllowSpecialTokens = allowSpecialTokens;
    }

    /// <summary>Number of token ids, special tokens included; valid ids are <c>0 .. VocabularySize - 1</c>.</summary>
    public abstract int VocabularySize { get; }

    /// <summary>The special tokens (their literal text and id).</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>The document separator used when packing text, or <see langword="null"/> if there is none.</summary>
    public abstract int? EndOfTextId { get; }

    /// <summary>
    /// When <see langword="true"/>, occurrences of the special tokens' text in the input become their ids; otherwise they are
    /// encoded as ordinary text.
    /// </summary>
    public bool AllowSpecialTokens { get; }

    /// <summary>A self-contained description from which <see cref="TokenizerFactory.FromDescription"/> rebuilds this tokenizer.</summary>
    /// <returns>The description.</returns>
    public abstract TokenizerDescription Describe();

    /// <summary>Encodes <paramref name="text"/> into token ids (special tokens as set by <see cref="AllowSpecialTokens"/>).</summary>
    /// <param name="text">The text.</param>
    /// <returns>The ids.</returns>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<TokenSpan>(text.Length / 2 + 4);
        Split(text, output, int.MaxValue);
        var ids = new int[output.Count];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = output[i].Id;
        }

        return ids;
    }

    /// <inheritdoc/>
    protected override EncodeResults<EncodedToken> EncodeToTokens(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        var span = text is null ? textSpan : text.AsSpan();
        var output = new List<TokenSpan>(span.Length / 2 + 4);
        var consumed = Split(span, output, settings.MaxTokenCount);
        var tokens = new List<EncodedToken>(output.Count);
        foreach (var t in output)
        {
            tokens.Add(new EncodedToken(t.Id, span.Slice(t.Start, t.Length).ToString(), new Range(t.Start, t.Start + t.Length)));
        }

        return new EncodeResults<EncodedToken> { Tokens = tokens, CharsConsumed = consumed };
    }

    /// <inheritdoc/>
    protected override EncodeResults<int> EncodeToIds(string? text, ReadOnlySpan<char> textSpan, EncodeSettings settings)
    {
        var span = text is null ? textSpan : text.AsSpan();
        var output = new List<TokenSpan>(span.Length / 2 + 4);
        var consumed = Split(span, output, settings.MaxTokenCount);
        var ids = new List<int>(output.Count);
        foreach (var t in output)
        {
            ids.Add(t.Id);
        }

        return new EncodeResults<int> { Tokens = ids, CharsConsumed = consumed };
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException">An id lies outside the vocabulary.</exception>
    public override string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var list = ids as IReadOnlyList<int> ?? [.. ids];
        var vocabularySize = VocabularySize;
        for (var i = 0; i < list.Count; i++)
        {
            if ((uint)list[i] >= (uint)vocabularySize)
            {
                throw TokenizerErrors.IdOutOfRange(nameof(ids), list[i], i, vocabularySize);
            }
        }

        return DecodeValid(list);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentOutOfRangeException">An id lies outside the vocabulary.</exception>
    public override OperationStatus Decode(IEnumerable<int> ids, Span<char> destination, out int idsConsumed, out int charsWritten)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var list = ids as IReadOnlyList<int> ?? [.. ids];
        var whole = Decode(list);
        if (whole.Length <= destination.Length)
        {
            whole.CopyTo(destination);
            idsConsumed = list.Count;
            charsWritten = whole.Length;
            return OperationStatus.Done;
        }

        // The longest prefix of ids whose text fits (the decoded length grows with the prefix).
        int lo = 0, hi = list.Count;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) / 2;
            if (DecodeValid(new ArraySegment<int>([.. list.Take(mid)])).Length <= destination.Length)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        var prefix = DecodeValid(new ArraySegment<int>([.. list.Take(lo)]));
        prefix.CopyTo(destination);
        idsConsumed = lo;
        charsWritten = prefix.Length;
        return OperationStatus.DestinationTooSmall;
    }

    /// <summary>Decodes ids already checked to lie in the vocabulary.</summary>
    /// <param name="ids">The ids.</param>
    /// <returns>The text.</returns>
    protected abstract string DecodeValid(IReadOnlyList<int> ids);

    /// <summary>
    /// Encodes text that holds no special tokens (or where they are ordinary text), appending one entry per token: its id and
    /// the span of <paramref name="text"/> it came from, offset by <paramref name="offset"/>.
    /// </summary>
    /// <param name="text">The stretch of text.</param>
    /// <param name="offset">Where <paramref name="text"/> starts in the whole input.</param>
    /// <param name="output">The tokens so far.</param>
    protected abstract void EncodeOrdinary(ReadOnlySpan<char> text, int offset, List<TokenSpan> output);

    /// <summary>Splits at special tokens (when allowed) and encodes the stretches between; returns the characters consumed.</summary>
    private int Split(ReadOnlySpan<char> text, List<TokenSpan> output, int maxTokens)
    {
        if (!AllowSpecialTokens || _specialTexts.Length == 0)
        {
            EncodeOrdinary(text, 0, output);
        }
        else
        {
            // Next occurrence of each special token at or after the position (int.MaxValue: none left); heap-allocated, so the
            // number of special tokens is not limited by the stack.
            var next = new int[_specialTexts.Length];
            Array.Fill(next, -1);
            var position = 0;
            while (true)
            {
                int best = -1, bestLength = 0, bestId = -1;
                for (var k = 0; k < _specialTexts.Length; k++)
                {
                    if (next[k] != int.MaxValue && next[k] < position)
                    {
                        var found = text[position..].IndexOf(_specialTexts[k], StringComparison.Ordinal);
                        next[k] = found < 0 ? int.MaxValue : position + found;
                    }

                    if (next[k] != int.MaxValue && (best < 0 || next[k] < best || (next[k] == best && _specialTexts[k].Length > bestLength)))
                    {
                        (best, bestLength, bestId) = (next[k], _specialTexts[k].Length, _specialIds[k]);
                    }
                }

                var end = best < 0 ? text.Length : best;
                EncodeOrdinary(text[position..end], position, output);
                if (best < 0)
                {
                    break;
                }

                output.Add(new TokenSpan(bestId, best, bestLength));
                position = best + bestLength;
            }
        }

        if (output.Count <= maxTokens)
        {
            return text.Length;
        }

        // Keep whole characters: drop trailing tokens that share their span with the first dropped one (bytes of one character).
        var keep = maxTokens;
        while (keep > 0 && output[keep - 1].Start == output[keep].Start)
        {
            keep--;
        }

        var consumed = keep == 0 ? 0 : output[keep - 1].Start + output[keep - 1].Length;
        output.RemoveRange(keep, output.Count - keep);
        return consumed;
    }

    /// <summary>One token of an encoding: its id and the span of the input it came from.</summary>
    /// <param name="Id">The token id.</param>
    /// <param name="Start">Index of the first character.</param>
    /// <param name="Length">Number of characters (several tokens may share one character's span).</param>
    protected internal readonly record struct TokenSpan(int Id, int Start, int Length);
}
