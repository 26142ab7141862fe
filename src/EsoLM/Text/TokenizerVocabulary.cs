using System.Collections.ObjectModel;
using System.Runtime.CompilerServices;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Text;

/// <summary>
/// What an Eso-LM needs to know about a <see cref="Tokenizer"/>'s ids: how many there are, the special tokens, the document
/// separator (EOS, if any) and the tokenizer's own mask token (if any). Get it with <see cref="Of"/>; it is computed once
/// per tokenizer instance.
/// </summary>
/// <remarks>
/// The model's mask id is the tokenizer's mask token when it has one (BERT's <c>[MASK]</c>, which need not be the last id);
/// otherwise the model appends one mask id after the vocabulary (<see cref="ModelMaskTokenId"/>, <see cref="ModelVocabularySize"/>).
/// </remarks>
public sealed class TokenizerVocabulary
{
    /// <summary>Special-token texts recognised as a document separator, in order of preference.</summary>
    private static readonly string[] EndOfTextNames = ["<|endoftext|>", "</s>", "<eos>", "[SEP]"];

    /// <summary>Special-token texts recognised as a mask token, in order of preference.</summary>
    private static readonly string[] MaskNames = ["[MASK]", "<mask>", "<|mask|>"];

    /// <summary>Largest id a probed vocabulary may reach (2^24), so probing a tokenizer that decodes everything ends.</summary>
    private const int ProbeLimit = 1 << 24;

    private static readonly ConditionalWeakTable<Tokenizer, TokenizerVocabulary> Cache = [];

    /// <summary>Creates a vocabulary description.</summary>
    /// <param name="size">Number of ids (valid ids are <c>0 .. size - 1</c>).</param>
    /// <param name="specialTokens">The special tokens.</param>
    /// <param name="endOfTextId">The document separator, or <see langword="null"/>.</param>
    /// <param name="maskTokenId">The tokenizer's own mask token, or <see langword="null"/>.</param>
    /// <exception cref="ArgumentOutOfRangeException">The size is below 1 or an id lies outside <c>[0, size)</c>.</exception>
    public TokenizerVocabulary(int size, IReadOnlyDictionary<string, int> specialTokens, int? endOfTextId, int? maskTokenId)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        ArgumentNullException.ThrowIfNull(specialTokens);
        if (endOfTextId is int eos && (uint)eos >= (uint)size)
        {
            throw new ArgumentOutOfRangeException(nameof(endOfTextId), eos, $"The end-of-text id must be in [0, {size}).");
        }

        if (maskTokenId is int mask && (uint)mask >= (uint)size)
        {
            throw new ArgumentOutOfRangeException(nameof(maskTokenId), mask, $"The mask id must be in [0, {size}).");
        }

        if (maskTokenId is not null && maskTokenId == endOfTextId)
        {
            throw new ArgumentException($"The mask id and the end-of-text id are both {maskTokenId}.", nameof(maskTokenId));
        }

        Size = size;
        SpecialTokens = new ReadOnlyDictionary<string, int>(new Dictionary<string, int>(specialTokens, StringComparer.Ordinal));
        EndOfTextId = endOfTextId;
        MaskTokenId = maskTokenId;
    }

    /// <summary>Number of token ids, special tokens included; valid ids are <c>0 .. Size - 1</c>.</summary>
    public int Size { get; }

    /// <summary>The special tokens (their literal text and id).</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>The document separator used when packing text (GPT-2: 50256), or <see langword="null"/> if there is none.</summary>
    public int? EndOfTextId { get; }

    /// <summary>The tokenizer's own mask token (BERT: <c>[MASK]</c>), or <see langword="null"/> when it has none.</summary>
    public int? MaskTokenId { get; }

    /// <summary>The model's vocabulary size: <see cref="Size"/>, plus one appended mask id when the tokenizer has no mask token.</summary>
    public int ModelVocabularySize => MaskTokenId is null ? Size + 1 : Size;

    /// <summary>The model's mask id: the tokenizer's mask token, else the id appended after the vocabulary.</summary>
    public int ModelMaskTokenId => MaskTokenId ?? Size;

    /// <summary>The vocabulary of <paramref name="tokenizer"/> (computed on first use, then cached for the instance).</summary>
    /// <param name="tokenizer">Any <see cref="Tokenizer"/>: EsoLM's own, or an ML.Tokenizers BPE, Tiktoken, WordPiece/BERT or SentencePiece tokenizer.</param>
    /// <returns>The vocabulary.</returns>
    /// <remarks>
    /// For a tokenizer type that does not expose its vocabulary (Tiktoken, WordPiece not built by <see cref="TokenizerFactory"/>,
    /// unknown subclasses), the size is found by decoding single ids: the first id above every special token that decodes to
    /// nothing ends the vocabulary.
    /// </remarks>
    public static TokenizerVocabulary Of(Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return Cache.GetValue(tokenizer, Compute);
    }

    /// <summary>Records a vocabulary known at construction (the factory knows a WordPiece file's size).</summary>
    internal static void Remember(Tokenizer tokenizer, TokenizerVocabulary vocabulary) => Cache.AddOrUpdate(tokenizer, vocabulary);

    private static TokenizerVocabulary Compute(Tokenizer tokenizer)
    {
        switch (tokenizer)
        {
            case EsoLmTokenizer own:
                return new TokenizerVocabulary(own.VocabularySize, own.SpecialTokens, own.EndOfTextId, null);
            case BertTokenizer bert:
            {
                var specials = bert.SpecialTokens ?? new Dictionary<string, int>();
                var size = ProbeSize(bert, MaxId(specials.Values) + 1);
                return new TokenizerVocabulary(size, specials, Valid(bert.SeparatorTokenId, size), Valid(bert.MaskingTokenId, size));
            }

            case BpeTokenizer bpe:
            {
                var specials = bpe.SpecialTokens ?? new Dictionary<string, int>();
                var size = Math.Max(MaxId(bpe.Vocabulary.Values), MaxId(specials.Values)) + 1;
                return FromNames(size, specials, name => specials.TryGetValue(name, out var id) || bpe.Vocabulary.TryGetValue(name, out id) ? id : null);
            }

            case SentencePieceTokenizer sentencePiece:
            {
                var specials = sentencePiece.SpecialTokens ?? new Dictionary<string, int>();
                var size = Math.Max(MaxId(sentencePiece.Vocabulary.Values), MaxId(specials.Values)) + 1;
                var eos = Valid(sentencePiece.EndOfSentenceId, size);
                var vocabulary = FromNames(size, specials, name => specials.TryGetValue(name, out var id) || sentencePiece.Vocabulary.TryGetValue(name, out id) ? id : null);
                return eos is null || eos == vocabulary.MaskTokenId ? vocabulary : new TokenizerVocabulary(size, specials, eos, vocabulary.MaskTokenId);
            }

            default:
            {
                var specials = tokenizer switch
                {
                    TiktokenTokenizer tiktoken => tiktoken.SpecialTokens,
                    WordPieceTokenizer wordPiece => wordPiece.SpecialTokens,
                    _ => null,
                } ?? new Dictionary<string, int>();
                var size = ProbeSize(tokenizer, MaxId(specials.Values) + 1);
                return FromNames(size, specials, name => specials.TryGetValue(name, out var id) ? id : null);
            }
        }
    }

    private static TokenizerVocabulary FromNames(int size, IReadOnlyDictionary<string, int> specials, Func<string, int?> lookup)
    {
        var eos = EndOfTextNames.Select(lookup).FirstOrDefault(id => id is int i && i < size);
        var mask = MaskNames.Select(lookup).FirstOrDefault(id => id is int i && i < size && i != eos);
        return new TokenizerVocabulary(size, specials, eos, mask);
    }

    private static int? Valid(int id, int size) => id >= 0 && id < size ? id : null;

    private static int MaxId(IEnumerable<int> ids) => ids.DefaultIfEmpty(-1).Max();

    /// <summary>
    /// The vocabulary size of a tokenizer that does not expose it: ids are taken to be contiguous from 0, so the size is the
    /// first id at or above <paramref name="lowerBound"/> that decodes to nothing (exponential then binary search).
    /// </summary>
    private static int ProbeSize(Tokenizer tokenizer, int lowerBound)
    {
        lowerBound = Math.Max(lowerBound, 1);
        bool Known(int id) => tokenizer.Decode([id]).Length > 0;
        if (!Known(lowerBound))
        {
            return lowerBound;
        }

        // Known(lo) holds; find hi with !Known(hi).
        int lo = lowerBound, hi = lowerBound;
        while (Known(hi))
        {
            lo = hi;
            if (hi >= ProbeLimit)
            {
                throw new NotSupportedException(
                    $"Cannot determine the vocabulary size of {tokenizer.GetType().Name}: it decodes every id up to {ProbeLimit}.");
            }

            hi = (int)Math.Min((long)hi * 2, ProbeLimit);
        }

        while (hi - lo > 1)
        {
            var mid = lo + ((hi - lo) / 2);
            if (Known(mid))
            {
                lo = mid;
            }
            else
            {
                hi = mid;
            }
        }

        return hi;
    }
}
