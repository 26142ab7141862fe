using System.Text;
using System.Text.Json;

namespace EsoLM.Text;

/// <summary>
/// One token per code point (so an astral character is one token) over an alphabet taken from a corpus, sorted by code
/// point; then <c>&lt;|endoftext|&gt;</c> and, optionally, <c>&lt;unk&gt;</c>. A lone surrogate is read as U+FFFD.
/// </summary>
public sealed class CharTokenizer : EsoLmTokenizer
{
    /// <summary>The <see cref="TokenizerDescription.Kind"/> of this tokenizer.</summary>
    public const string Kind = "char";

    /// <summary>The end-of-text special token.</summary>
    public const string EndOfText = "<|endoftext|>";

    /// <summary>The unknown-character special token (present when built with <c>withUnknownToken</c>).</summary>
    public const string Unknown = "<unk>";

    private readonly Rune[] _alphabet;
    private readonly Dictionary<int, int> _ids;
    private readonly int[] _asciiIds = new int[128];
    private readonly string[] _specialTexts;

    private CharTokenizer(Rune[] alphabet, bool withUnknownToken, bool allowSpecialTokens)
        : base(Specials(alphabet.Length, withUnknownToken), allowSpecialTokens)
    {
        _alphabet = alphabet;
        _ids = new Dictionary<int, int>(alphabet.Length);
        Array.Fill(_asciiIds, -1);
        for (var i = 0; i < alphabet.Length; i++)
        {
            if (!_ids.TryAdd(alphabet[i].Value, i) || (i > 0 && alphabet[i - 1].Value > alphabet[i].Value))
            {
                throw new ArgumentException("The alphabet must be sorted by code point without duplicates.", nameof(alphabet));
            }

            if (alphabet[i].IsAscii)
            {
                _asciiIds[alphabet[i].Value] = i;
            }
        }

        UnknownTokenId = withUnknownToken ? alphabet.Length + 1 : null;
        _specialTexts = [.. SpecialTokens.OrderBy(s => s.Value).Select(s => s.Key)];
    }

    /// <inheritdoc/>
    public override int VocabularySize => _alphabet.Length + _specialTexts.Length;

    /// <inheritdoc/>
    public override int? EndOfTextId => _alphabet.Length;

    /// <summary>The id characters outside the alphabet encode to, or <see langword="null"/> when they are an error.</summary>
    public int? UnknownTokenId { get; }

    /// <summary>Number of characters (code points) in the alphabet; they have ids <c>0 .. AlphabetSize - 1</c>.</summary>
    public int AlphabetSize => _alphabet.Length;

    /// <summary>Builds the alphabet from the distinct code points of <paramref name="corpus"/>.</summary>
    /// <param name="corpus">The text whose characters form the alphabet.</param>
    /// <param name="withUnknownToken">
    /// Adds an <c>&lt;unk&gt;</c> token that unknown characters encode to (otherwise encoding one throws).
    /// </param>
    /// <param name="allowSpecialTokens">Whether special-token text in the input becomes the special id.</param>
    /// <returns>The tokenizer.</returns>
    public static CharTokenizer FromCorpus(string corpus, bool withUnknownToken = false, bool allowSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        var distinct = new HashSet<Rune>();
        foreach (var rune in corpus.EnumerateRunes())
        {
            distinct.Add(rune);
        }

        return new CharTokenizer([.. distinct.OrderBy(r => r.Value)], withUnknownToken, allowSpecialTokens);
    }

    /// <summary>Rebuilds a tokenizer from the payload of a <c>char</c> <see cref="TokenizerDescription"/>.</summary>
    /// <param name="description">A description produced by <see cref="Describe"/>.</param>
    /// <returns>The tokenizer.</returns>
    public static CharTokenizer FromDescription(TokenizerDescription description)
    {
        ArgumentNullException.ThrowIfNull(description);
        if (!string.Equals(description.Kind, Kind, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Expected a '{Kind}' description, got kind '{description.Kind}'.", nameof(description));
        }

        using var document = JsonDocument.Parse(description.Payload);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("alphabet", out var alphabet)
            || alphabet.ValueKind != JsonValueKind.String)
        {
            throw new InvalidDataException("A char tokenizer payload must be a JSON object with an 'alphabet' string.");
        }

        var withUnknown = root.TryGetProperty("unknown", out var unknown) && unknown.ValueKind == JsonValueKind.True;
        var runes = new List<Rune>();
        foreach (var rune in alphabet.GetString()!.EnumerateRunes())
        {
            runes.Add(rune);
        }

        return new CharTokenizer([.. runes], withUnknown, TokenizerJson.Flag(root, TokenizerJson.AllowSpecial));
    }

    /// <inheritdoc/>
    protected override string DecodeValid(IReadOnlyList<int> ids)
    {
        var builder = new StringBuilder(ids.Count);
        Span<char> pair = stackalloc char[2];
        foreach (var id in ids)
        {
            if (id < _alphabet.Length)
            {
                builder.Append(pair[.._alphabet[id].EncodeToUtf16(pair)]);
            }
            else
            {
                builder.Append(_specialTexts[id - _alphabet.Length]);
            }
        }

        return builder.ToString();
    }

    /// <inheritdoc/>
    /// <remarks>The payload is JSON <c>{"alphabet": "...", "unknown": false, "allow_special": false}</c>.</remarks>
    public override TokenizerDescription Describe()
    {
        var alphabet = new StringBuilder(_alphabet.Length);
        foreach (var rune in _alphabet)
        {
            alphabet.Append(rune.ToString());
        }

        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("alphabet", alphabet.ToString());
            json.WriteBoolean("unknown", UnknownTokenId.HasValue);
            json.WriteBoolean(TokenizerJson.AllowSpecial, AllowSpecialTokens);
            json.WriteEndObject();
        }

        return new TokenizerDescription(Kind, Encoding.UTF8.GetString(stream.ToArray()));
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A character is not in the alphabet and there is no <c>&lt;unk&gt;</c> token.</exception>
    protected override void EncodeOrdinary(ReadOnlySpan<char> text, int offset, List<TokenSpan> output)
    {
        var position = 0;
        while (position < text.Length)
        {
            int id;
            var c = text[position];
            var consumed = 1;
            if (c < 128 && _asciiIds[c] >= 0)
            {
                id = _asciiIds[c];
            }
            else
            {
                Rune.DecodeFromUtf16(text[position..], out var rune, out consumed);
                if (!_ids.TryGetValue(rune.Value, out id))
                {
                    id = UnknownTokenId ?? throw new ArgumentException(
                        $"Character {Show(rune)} at index {offset + position} is not in the tokenizer's alphabet of {_alphabet.Length} characters.",
                        nameof(text));
                }
            }

            output.Add(new TokenSpan(id, offset + position, consumed));
            position += consumed;
        }
    }

    private static Dictionary<string, int> Specials(int alphabetSize, bool withUnknownToken)
    {
        var specials = new Dictionary<string, int>(StringComparer.Ordinal) { [EndOfText] = alphabetSize };
        if (withUnknownToken)
        {
            specials[Unknown] = alphabetSize + 1;
        }

        return specials;
    }

    private static string Show(Rune rune) =>
        Rune.IsControl(rune) || Rune.IsWhiteSpace(rune)
            ? $"U+{rune.Value:X4}"
            : $"'{rune}' (U+{rune.Value:X4})";
}
