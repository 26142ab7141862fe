using System.Collections.ObjectModel;
using System.Text;
using System.Text.Json;

namespace EsoLM.Text;

/// <summary>
/// A word-level tokenizer built from a corpus: text is split into the GPT-2 pre-tokenizer's pieces (a word or number with
/// its leading space, a run of punctuation, a run of whitespace) and every distinct piece of the corpus is one token.
/// Small vocabularies of whole words make small models learn fast — it is the natural tokenizer for the built-in language
/// (a few hundred word forms) and for narrow-domain corpora. Decoding concatenates the pieces, so decode(encode(s)) == s
/// for any text made of known pieces. Specials: <c>&lt;|endoftext|&gt;</c> and, optionally, <c>&lt;unk&gt;</c>.
/// Immutable and thread-safe.
/// </summary>
public sealed class WordTokenizer : ITokenizer
{
    /// <summary>The description kind.</summary>
    public const string Kind = "word";

    /// <summary>The end-of-text special token.</summary>
    public const string EndOfText = "<|endoftext|>";

    /// <summary>The unknown-piece special token (present only when enabled).</summary>
    public const string Unknown = "<unk>";

    private readonly string[] _pieces;
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly string[] _specialTexts;
    private readonly SpecialTokenScanner _scanner;

    private WordTokenizer(string[] pieces, bool withUnknownToken)
    {
        _pieces = pieces;
        _ids = new Dictionary<string, int>(pieces.Length, StringComparer.Ordinal);
        for (int i = 0; i < pieces.Length; i++)
        {
            if (pieces[i].Length == 0 || !_ids.TryAdd(pieces[i], i))
            {
                throw new ArgumentException($"Piece #{i} is empty or duplicated.", nameof(pieces));
            }
        }

        _lookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        var specials = new Dictionary<string, int>(StringComparer.Ordinal) { [EndOfText] = pieces.Length };
        if (withUnknownToken)
        {
            specials[Unknown] = pieces.Length + 1;
            UnknownTokenId = pieces.Length + 1;
        }

        _specialTexts = [.. specials.OrderBy(s => s.Value).Select(s => s.Key)];
        SpecialTokens = new ReadOnlyDictionary<string, int>(specials);
        _scanner = new SpecialTokenScanner(specials);
    }

    /// <inheritdoc/>
    public int VocabularySize => _pieces.Length + _specialTexts.Length;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <inheritdoc/>
    public int? EndOfTextId => _pieces.Length;

    /// <inheritdoc/>
    public int? MaskTokenId => null;

    /// <summary>The id of <c>&lt;unk&gt;</c>, or null when unknown pieces are an error.</summary>
    public int? UnknownTokenId { get; }

    /// <summary>Number of ordinary pieces (the vocabulary without specials).</summary>
    public int PieceCount => _pieces.Length;

    /// <summary>Builds the vocabulary from the distinct pieces of <paramref name="corpus"/> (sorted ordinally, so it is deterministic).</summary>
    /// <param name="corpus">The text to learn pieces from.</param>
    /// <param name="withUnknownToken">Map unseen pieces to <c>&lt;unk&gt;</c> instead of throwing.</param>
    public static WordTokenizer FromCorpus(string corpus, bool withUnknownToken = false)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        var distinct = new HashSet<string>(StringComparer.Ordinal);
        for (int position = 0; position < corpus.Length;)
        {
            int length = Gpt2PreTokenizer.NextPieceLength(corpus, position);
            distinct.Add(corpus.Substring(position, length));
            position += length;
        }

        distinct.Remove(EndOfText);
        return new WordTokenizer([.. distinct.Order(StringComparer.Ordinal)], withUnknownToken);
    }

    /// <summary>Rebuilds a tokenizer from <see cref="Describe"/>'s output.</summary>
    public static WordTokenizer FromDescription(TokenizerDescription description)
    {
        ArgumentNullException.ThrowIfNull(description);
        if (!string.Equals(description.Kind, Kind, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Expected a '{Kind}' description, got kind '{description.Kind}'.", nameof(description));
        }

        using var document = JsonDocument.Parse(description.Payload);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("pieces", out var pieces) || pieces.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException("A word tokenizer payload must be a JSON object with a 'pieces' array of strings.");
        }

        var list = pieces.EnumerateArray().Select(p => p.GetString() ?? throw new InvalidDataException("A piece is not a string.")).ToArray();
        bool withUnknown = root.TryGetProperty("unknown", out var unknown) && unknown.ValueKind == JsonValueKind.True;
        return new WordTokenizer(list, withUnknown);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A piece is not in the vocabulary and there is no <c>&lt;unk&gt;</c> token.</exception>
    public int[] Encode(string text, bool allowSpecial = false) =>
        SpecialAwareEncoding.Encode(_scanner, new Ordinary(this), text, allowSpecial, ((text ?? throw new ArgumentNullException(nameof(text))).Length / 3) + 16);

    /// <inheritdoc/>
    public bool TryEncode(ReadOnlySpan<char> text, Span<int> destination, out int written, bool allowSpecial = false) =>
        SpecialAwareEncoding.TryEncode(_scanner, new Ordinary(this), text, destination, out written, allowSpecial);

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var builder = new StringBuilder(ids.Length * 5);
        for (int i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)VocabularySize)
            {
                throw TokenizerErrors.IdOutOfRange(nameof(ids), id, i, VocabularySize);
            }

            builder.Append(id < _pieces.Length ? _pieces[id] : _specialTexts[id - _pieces.Length]);
        }

        return builder.ToString();
    }

    /// <inheritdoc/>
    /// <remarks>The payload is JSON <c>{"pieces": [...], "unknown": false}</c>.</remarks>
    public TokenizerDescription Describe()
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteStartArray("pieces");
            foreach (var p in _pieces)
            {
                json.WriteStringValue(p);
            }

            json.WriteEndArray();
            json.WriteBoolean("unknown", UnknownTokenId.HasValue);
            json.WriteEndObject();
        }

        return new TokenizerDescription(Kind, Encoding.UTF8.GetString(stream.ToArray()));
    }

        private bool EncodeOrdinary(ReadOnlySpan<char> text, int start, int end, ref IdWriter writer)
    {
        var segment = text[..end];
        for (int position = start; position < end;)
        {
            int length = Gpt2PreTokenizer.NextPieceLength(segment, position);
            var piece = segment.Slice(position, length);
            if (!_lookup.TryGetValue(piece, out int id))
            {
                id = UnknownTokenId ?? throw new ArgumentException(
                    $"The piece \"{piece}\" at index {position} is not in the tokenizer's vocabulary of {_pieces.Length} pieces.", nameof(text));
            }

            if (!writer.Add(id))
            {
                return false;
            }

            position += length;
        }

        return true;
    }

    /// <summary>The ordinary (special-free) encode path, for <see cref="SpecialAwareEncoding"/>.</summary>
    private readonly struct Ordinary(WordTokenizer tokenizer) : IOrdinaryEncoder
    {
        public bool Encode(ReadOnlySpan<char> text, int start, int end, ref IdWriter writer) => tokenizer.EncodeOrdinary(text, start, end, ref writer);
    }
}
