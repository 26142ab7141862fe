using System.Buffers;
using System.Collections.ObjectModel;
using System.Text;

namespace EsoLM.Text;

/// <summary>
/// Ids 0..255 are the bytes of the text's UTF-8 encoding; id 256 is <c>&lt;|endoftext|&gt;</c>. Decoding replaces invalid
/// UTF-8 with U+FFFD; a lone surrogate in the input is encoded as U+FFFD.
/// </summary>
public sealed class ByteTokenizer : ITokenizer
{
    /// <summary>The <see cref="TokenizerDescription.Kind"/> of this tokenizer.</summary>
    public const string Kind = "byte";

    /// <summary>The end-of-text special token.</summary>
    public const string EndOfText = "<|endoftext|>";

    /// <summary>The id of <see cref="EndOfText"/>.</summary>
    public const int EndOfTextTokenId = 256;

    private static readonly byte[] EndOfTextBytes = Encoding.UTF8.GetBytes(EndOfText);

    private readonly SpecialTokenScanner _scanner;

    /// <summary>Creates the byte tokenizer.</summary>
    public ByteTokenizer()
    {
        var specials = new Dictionary<string, int>(StringComparer.Ordinal) { [EndOfText] = EndOfTextTokenId };
        SpecialTokens = new ReadOnlyDictionary<string, int>(specials);
        _scanner = new SpecialTokenScanner(specials);
    }

    /// <inheritdoc/>
    public int VocabularySize => 257;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <inheritdoc/>
    public int? EndOfTextId => EndOfTextTokenId;

    /// <inheritdoc/>
    public int? MaskTokenId => null;

    /// <inheritdoc/>
    public int[] Encode(string text, bool allowSpecial = false) =>
        SpecialAwareEncoding.Encode(_scanner, default(Ordinary), text, allowSpecial, (text ?? throw new ArgumentNullException(nameof(text))).Length + 16);

    /// <inheritdoc/>
    public bool TryEncode(ReadOnlySpan<char> text, Span<int> destination, out int written, bool allowSpecial = false) =>
        SpecialAwareEncoding.TryEncode(_scanner, default(Ordinary), text, destination, out written, allowSpecial);

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var total = 0;
        for (var i = 0; i < ids.Length; i++)
        {
            var id = ids[i];
            if ((uint)id >= (uint)VocabularySize)
            {
                throw TokenizerErrors.IdOutOfRange(nameof(ids), id, i, VocabularySize);
            }

            total += id == EndOfTextTokenId ? EndOfTextBytes.Length : 1;
        }

        var rented = ArrayPool<byte>.Shared.Rent(Math.Max(total, 1));
        try
        {
            var offset = 0;
            foreach (var id in ids)
            {
                if (id == EndOfTextTokenId)
                {
                    EndOfTextBytes.CopyTo(rented, offset);
                    offset += EndOfTextBytes.Length;
                }
                else
                {
                    rented[offset++] = (byte)id;
                }
            }

            return Encoding.UTF8.GetString(rented, 0, total);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <inheritdoc/>
    /// <remarks>The payload is empty: the byte tokenizer has no parameters.</remarks>
    public TokenizerDescription Describe() => new(Kind, string.Empty);

        private static bool EncodeOrdinary(ReadOnlySpan<char> text, ref IdWriter writer)
    {
        Span<byte> chunk = stackalloc byte[1024];
        Span<int> ids = stackalloc int[1024];
        while (!text.IsEmpty)
        {
            // Split on a whole code point so that a surrogate pair is never cut in two.
            var take = Math.Min(text.Length, chunk.Length / 3);
            if (take < text.Length && char.IsHighSurrogate(text[take - 1]))
            {
                take--;
            }

            var count = Encoding.UTF8.GetBytes(text[..take], chunk);
            for (var i = 0; i < count; i++)
            {
                ids[i] = chunk[i];
            }

            if (!writer.AddRange(ids[..count]))
            {
                return false;
            }

            text = text[take..];
        }

        return true;
    }

    /// <summary>The ordinary (special-free) encode path, for <see cref="SpecialAwareEncoding"/>.</summary>
    private readonly struct Ordinary : IOrdinaryEncoder
    {
        public bool Encode(ReadOnlySpan<char> text, int start, int end, ref IdWriter writer) => EncodeOrdinary(text[start..end], ref writer);
    }
}
