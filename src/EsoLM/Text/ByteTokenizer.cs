using System.Buffers;
using System.Text;
using System.Text.Json;

namespace EsoLM.Text;

/// <summary>
/// Ids 0..255 are the bytes of the text's UTF-8 encoding; id 256 is <c>&lt;|endoftext|&gt;</c>. Decoding replaces invalid
/// UTF-8 with U+FFFD; a lone surrogate in the input is encoded as U+FFFD.
/// </summary>
public sealed class ByteTokenizer : EsoLmTokenizer
{
    /// <summary>The <see cref="TokenizerDescription.Kind"/> of this tokenizer.</summary>
    public const string Kind = "byte";

    /// <summary>The end-of-text special token.</summary>
    public const string EndOfText = "<|endoftext|>";

    /// <summary>The id of <see cref="EndOfText"/>.</summary>
    public const int EndOfTextTokenId = 256;

    private static readonly byte[] EndOfTextBytes = Encoding.UTF8.GetBytes(EndOfText);

    /// <summary>Creates the byte tokenizer.</summary>
    /// <param name="allowSpecialTokens">Whether <c>&lt;|endoftext|&gt;</c> in the input becomes id 256 (otherwise it is 13 bytes).</param>
    public ByteTokenizer(bool allowSpecialTokens = false)
        : base(new Dictionary<string, int>(StringComparer.Ordinal) { [EndOfText] = EndOfTextTokenId }, allowSpecialTokens)
    {
    }

    /// <inheritdoc/>
    public override int VocabularySize => 257;

    /// <inheritdoc/>
    public override int? EndOfTextId => EndOfTextTokenId;

    /// <summary>Rebuilds a tokenizer from the payload of a <c>byte</c> <see cref="TokenizerDescription"/>.</summary>
    /// <param name="description">A description produced by <see cref="Describe"/>.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="InvalidDataException">The payload is malformed.</exception>
    public static ByteTokenizer FromDescription(TokenizerDescription description)
    {
        ArgumentNullException.ThrowIfNull(description);
        if (!string.Equals(description.Kind, Kind, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Expected a '{Kind}' description, got kind '{description.Kind}'.", nameof(description));
        }

        if (description.Payload.Length == 0)
        {
            return new ByteTokenizer();
        }

        try
        {
            using var document = JsonDocument.Parse(description.Payload);
            return document.RootElement.ValueKind == JsonValueKind.Object
                ? new ByteTokenizer(TokenizerJson.Flag(document.RootElement, TokenizerJson.AllowSpecial))
                : throw new InvalidDataException("A byte tokenizer payload must be empty or a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"A byte tokenizer payload is not valid JSON: {e.Message}", e);
        }
    }

    /// <inheritdoc/>
    /// <remarks>The payload is empty, or <c>{"allow_special": true}</c>.</remarks>
    public override TokenizerDescription Describe() =>
        new(Kind, AllowSpecialTokens ? $"{{\"{TokenizerJson.AllowSpecial}\":true}}" : string.Empty);

    /// <inheritdoc/>
    protected override string DecodeValid(IReadOnlyList<int> ids)
    {
        var total = 0;
        foreach (var id in ids)
        {
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
    protected override void EncodeOrdinary(ReadOnlySpan<char> text, int offset, List<TokenSpan> output)
    {
        Span<byte> bytes = stackalloc byte[4];
        for (var position = 0; position < text.Length;)
        {
            Rune.DecodeFromUtf16(text[position..], out var rune, out var consumed);
            var count = rune.EncodeToUtf8(bytes);
            for (var i = 0; i < count; i++)
            {
                output.Add(new TokenSpan(bytes[i], offset + position, consumed));
            }

            position += consumed;
        }
    }
}
