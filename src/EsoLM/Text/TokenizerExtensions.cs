using Microsoft.ML.Tokenizers;

namespace EsoLM.Text;

/// <summary>What EsoLM does with any <see cref="Tokenizer"/>: encode a document, describe it for a model file.</summary>
internal static class TokenizerExtensions
{
    /// <summary>
    /// Encodes <paramref name="text"/> into token ids as an Eso-LM sees a document: the tokenizer's own ids, without the
    /// sequence wrappers some tokenizers add (BERT's <c>[CLS]</c> … <c>[SEP]</c>); documents are separated by
    /// <see cref="TokenizerVocabulary.EndOfTextId"/> when packed.
    /// </summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="text">The text.</param>
    /// <returns>The ids.</returns>
    public static int[] Encode(this Tokenizer tokenizer, string text)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(text);
        return tokenizer switch
        {
            EsoLmTokenizer own => own.Encode(text),
            BertTokenizer bert => [.. bert.EncodeToIds(text, addSpecialTokens: false)],
            _ => [.. tokenizer.EncodeToIds(text)],
        };
    }

    /// <summary>Decodes token ids back into text, checking that each lies in the tokenizer's vocabulary.</summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="ids">The ids; each must lie in <c>0 .. TokenizerVocabulary.Of(tokenizer).Size - 1</c>.</param>
    /// <returns>The text.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An id lies outside the vocabulary.</exception>
    public static string Decode(this Tokenizer tokenizer, ReadOnlySpan<int> ids)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var size = TokenizerVocabulary.Of(tokenizer).Size;
        for (var i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)size)
            {
                throw TokenizerErrors.IdOutOfRange(nameof(ids), ids[i], i, size);
            }
        }

        return tokenizer.Decode(ids.ToArray());
    }

    /// <summary>
    /// The self-contained description stored in model files, from which <see cref="TokenizerFactory.FromDescription"/>
    /// rebuilds the same tokenizer.
    /// </summary>
    /// <param name="tokenizer">
    /// EsoLM's own tokenizer, or one built by <see cref="TokenizerFactory"/> (data-package tokenizers are described by name,
    /// file-based ones embed their vocabulary).
    /// </param>
    /// <returns>The description.</returns>
    /// <exception cref="NotSupportedException">
    /// The tokenizer was built outside <see cref="TokenizerFactory"/>, so its vocabulary cannot be recovered.
    /// </exception>
    public static TokenizerDescription Describe(this Tokenizer tokenizer) =>
        TryDescribe(tokenizer) ?? throw new NotSupportedException(
            $"A {tokenizer.GetType().Name} built outside TokenizerFactory cannot be stored in a model file (its vocabulary is not " +
            "recoverable from the instance). Build it with TokenizerFactory (FromSpec, Gpt2, Tiktoken, Bert, SentencePiece) instead.");

    /// <summary>The description of <paramref name="tokenizer"/>, or <see langword="null"/> when it cannot be described.</summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <returns>The description, or <see langword="null"/>.</returns>
    public static TokenizerDescription? TryDescribe(this Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return tokenizer is EsoLmTokenizer own ? own.Describe() : TokenizerFactory.DescriptionOf(tokenizer);
    }
}
