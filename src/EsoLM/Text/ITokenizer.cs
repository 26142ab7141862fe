namespace EsoLM.Text;

/// <summary>
/// Maps text to token ids and back. Implementations are immutable after construction and safe to share
/// between threads.
/// </summary>
public interface ITokenizer
{
    /// <summary>Number of token ids, special tokens included; valid ids are <c>0 .. VocabularySize - 1</c>.</summary>
    int VocabularySize { get; }

    /// <summary>The special tokens (their literal text and id), recognised in text only when <c>allowSpecial</c> is set.</summary>
    IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>The document separator used when packing text (GPT-2: 50256), or <see langword="null"/> if there is none.</summary>
    int? EndOfTextId { get; }

    /// <summary>
    /// The mask token id, or <see langword="null"/> when the tokenizer has none (the model then appends a mask id equal to
    /// <see cref="VocabularySize"/>).
    /// </summary>
    int? MaskTokenId { get; }

    /// <summary>Encodes <paramref name="text"/> into token ids.</summary>
    /// <param name="text">The text to encode.</param>
    /// <param name="allowSpecial">
    /// When <see langword="true"/>, occurrences of the special tokens' text become their ids; otherwise they are encoded as
    /// ordinary text.
    /// </param>
    /// <returns>The token ids.</returns>
    int[] Encode(string text, bool allowSpecial = false);

    /// <summary>Encodes <paramref name="text"/> into <paramref name="destination"/> without allocating the result.</summary>
    /// <param name="text">The text to encode.</param>
    /// <param name="destination">Where the ids are written.</param>
    /// <param name="written">The number of ids written; 0 when the method returns <see langword="false"/>.</param>
    /// <param name="allowSpecial">As for <see cref="Encode(string, bool)"/>.</param>
    /// <returns><see langword="false"/> when <paramref name="destination"/> is too small (its content is then unspecified).</returns>
    bool TryEncode(ReadOnlySpan<char> text, Span<int> destination, out int written, bool allowSpecial = false);

    /// <summary>Decodes token ids back into text.</summary>
    /// <param name="ids">The ids; each must lie in <c>0 .. VocabularySize - 1</c>.</param>
    /// <returns>The text.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An id lies outside the vocabulary.</exception>
    string Decode(ReadOnlySpan<int> ids);

    /// <summary>A self-contained description from which <see cref="TokenizerFactory.FromDescription"/> rebuilds this tokenizer.</summary>
    /// <returns>The description.</returns>
    TokenizerDescription Describe();
}
