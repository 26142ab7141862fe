using System.Text;
using System.Text.Json;

namespace EsoLM.Text;

/// <summary>
/// A word-level tokenizer built from a corpus: text is split into the GPT-2 pre-tokenizer's pieces (a word or number with
/// its leading space, a run of punctuation, a run of whitespace) and every distinct piece of the corpus is one token.
/// Small vocabularies of whole words make small models learn fast — it is the natural tokenizer for the built-in language
/// (a few hundred word forms) and for narrow-domain corpora. Decoding concatenates the pieces, so decode(encode(s)) == s
/// for any text made of known pieces. Specials: <c>&lt;|endoftext|&gt;</c> and, optionally, <c>&lt;unk&gt;</c>.
/// Special-token text in the input becomes the special id only when built with <c>allowSpecialTokens</c>. Immutable and
/// thread-safe.
/// </summary>
public sealed class WordTokenizer : EsoLmTokenizer
{
    /// <summary>The description kind.</summary>
    public const string Kind = "word";

    /// <summary>The end-of-text special token.</summary>
    public const string EndOfText = "<|endoftext|>";

    /// <summary>The unknown-piece special token (present only when enabled).</summary>
    public const string Unknown = "<unk>";

    private static readonly Microsoft.ML.Tokenizers.RegexPreTokenizer PieceSplitter = Gpt2Pattern.PreTokenizer(null);

    private readonly string[] _pieces;
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly string[] _specialTexts;

    private WordTokenizer(string[] pieces, bool withUnknownToken, bool allowSpecialTokens)
        : base(Specials(pieces.Length, withUnknownToken), allowSpecialTokens)
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
        UnknownTokenId = withUnknownToken ? pieces.Length + 1 : null;
        _specialTexts = [.. SpecialTokens.OrderBy(s => s.Value).Select(s => s.Key)];
    }

    /// <inheritdoc/>
    public override int VocabularySize => _pieces.Length + _specialTexts.Length;

    /// <inheritdoc/>
    public override int? EndOfTextId => _pieces.Length;

    /// <summary>The id of <c>&lt;unk&gt;</c>, or null when unknown pieces are an error.</summary>
    public int? UnknownTokenId { get; }

    /// <summary>Number of ordinary pieces (the vocabulary without specials).</summary>
    public int PieceCount => _pieces.Length;

    /// <summary>Builds the vocabulary from the distinct pieces of <paramref name="corpus"/> (sorted ordinally, so it is deterministic).</summary>
    /// <param name="corpus">The text to learn pieces from.</param>
    /// <param name="withUnknownToken">Map unseen pieces to <c>&lt;unk&gt;</c> instead of throwing.</param>
    /// <param name="allowSpecialTokens">Whether special-token text in the input becomes the special id.</param>
    /// <returns>The tokenizer.</returns>
    public static WordTokenizer FromCorpus(string corpus, bool withUnknownToken = false, bool allowSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        var distinct = new HashSet<string>(StringComparer.Ordinal);

        // With special tokens allowed, the text between them is split on its own (as Encode will split it).
        string[] separators = withUnknownToken ? [EndOfText, Unknown] : [EndOfText];
        foreach (var part in allowSpecialTokens ? corpus.Split(separators, StringSplitOptions.None) : [corpus])
        {
            foreach (var (offset, length) in PieceSplitter.PreTokenize(part))
            {
                distinct.Add(part.Substring(offset, length));
            }
        }

        distinct.Remove(EndOfText);
        return new WordTokenizer([.. distinct.Order(StringComparer.Ordinal)], withUnknownToken, allowSpecialTokens);
    }

    /// <summary>Rebuilds a tokenizer from <see cref="Describe"/>'s output.</summary>
    /// <param name="description">A description produced by <see cref="Describe"/>.</param>
    /// <returns>The tokenizer.</returns>
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
        return new WordTokenizer(list, withUnknown, TokenizerJson.Flag(root, TokenizerJson.AllowSpecial));
    }

    /// <inheritdoc/>
    protected override string DecodeValid(IReadOnlyList<int> ids)
    {
        var builder = new StringBuilder(ids.Count * 5);
        foreach (var id in ids)
        {
            builder.Append(id < _pieces.Length ? _pieces[id] : _specialTexts[id - _pieces.Length]);
        }

        return builder.ToString();
    }

    /// <inheritdoc/>
    /// <remarks>The payload is JSON <c>{"pieces": [...], "unknown": false, "allow_special": false}</c>.</remarks>
    public override TokenizerDescription Describe()
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
            json.WriteBoolean(TokenizerJson.AllowSpecial, AllowSpecialTokens);
            json.WriteEndObject();
        }

        return new TokenizerDescription(Kind, Encoding.UTF8.GetString(stream.ToArray()));
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A piece is not in the vocabulary and there is no <c>&lt;unk&gt;</c> token.</exception>
    protected override void EncodeOrdinary(ReadOnlySpan<char> text, int offset, List<TokenSpan> output)
    {
        foreach (var (position, length) in PieceSplitter.PreTokenize(text))
        {
            var piece = text.Slice(position, length);
            if (!_lookup.TryGetValue(piece, out int id))
            {
                id = UnknownTokenId ?? throw new ArgumentException(
                    $"The piece \"{piece}\" at index {offset + position} is not in the tokenizer's vocabulary of {_pieces.Length} pieces.", nameof(text));
            }

            output.Add(new TokenSpan(id, offset + position, length));
        }
    }

    private static Dictionary<string, int> Specials(int pieceCount, bool withUnknownToken)
    {
        var specials = new Dictionary<string, int>(StringComparer.Ordinal) { [EndOfText] = pieceCount };
        if (withUnknownToken)
        {
            specials[Unknown] = pieceCount + 1;
        }

        return specials;
    }
}
