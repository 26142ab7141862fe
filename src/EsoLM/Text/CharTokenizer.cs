using System.Collections.ObjectModel;
using System.Text;
using System.Text.Json;

namespace EsoLM.Text;

/// <summary>
/// One token per code point (so an astral character is one token) over an alphabet taken from a corpus, sorted by code
/// point; then <c>&lt;|endoftext|&gt;</c> and, optionally, <c>&lt;unk&gt;</c>. A lone surrogate is read as U+FFFD.
/// </summary>
public sealed class CharTokenizer : ITokenizer
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
    private readonly SpecialTokenScanner _scanner;

    private CharTokenizer(Rune[] alphabet, bool withUnknownToken)
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

        var specials = new Dictionary<string, int>(StringComparer.Ordinal) { [EndOfText] = alphabet.Length };
        if (withUnknownToken)
        {
            specials[Unknown] = alphabet.Length + 1;
            UnknownTokenId = alphabet.Length + 1;
        }

        _specialTexts = [.. specials.OrderBy(s => s.Value).Select(s => s.Key)];
        SpecialTokens = new ReadOnlyDictionary<string, int>(specials);
        _scanner = new SpecialTokenScanner(specials);
    }

    /// <inheritdoc/>
    public int VocabularySize => _alphabet.Length + _specialTexts.Length;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <inheritdoc/>
    public int? EndOfTextId => _alphabet.Length;

    /// <inheritdoc/>
    public int? MaskTokenId => null;

    /// <summary>The id characters outside the alphabet encode to, or <see langword="null"/> when they are an error.</summary>
    public int? UnknownTokenId { get; }

    /// <summary>Number of characters (code points) in the alphabet; they have ids <c>0 .. AlphabetSize - 1</c>.</summary>
    public int AlphabetSize => _alphabet.Length;

    /// <summary>Builds the alphabet from the distinct code points of <paramref name="corpus"/>.</summary>
    /// <param name="corpus">The text whose characters form the alphabet.</param>
    /// <param name="withUnknownToken">
    /// Adds an <c>&lt;unk&gt;</c> token that unknown characters encode to (otherwise encoding one throws).
    /// </param>
    /// <returns>The tokenizer.</returns>
    public static CharTokenizer FromCorpus(string corpus, bool withUnknownToken = false)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        var distinct = new HashSet<Rune>();
        foreach (var rune in corpus.EnumerateRunes())
        {
            distinct.Add(rune);
        }

        return new CharTokenizer([.. distinct.OrderBy(r => r.Value)], withUnknownToken);
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

        return new CharTokenizer([.. runes], withUnknown);
    }

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A character is not in the alphabet and there is no <c>&lt;unk&gt;</c> token.</exception>
    public int[] Encode(string text, bool allowSpecial = false) =>
        SpecialAwareEncoding.Encode(_scanner, new Ordinary(this), text, allowSpecial, (text ?? throw new ArgumentNullException(nameof(text))).Length + 16);

    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A character is not in the alphabet and there is no <c>&lt;unk&gt;</c> token.</exception>
    public bool TryEncode(ReadOnlySpan<char> text, Span<int> destination, out int written, bool allowSpecial = false) =>
        SpecialAwareEncoding.TryEncode(_scanner, new Ordinary(this), text, destination, out written, allowSpecial);

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var builder = new StringBuilder(ids.Length);
        Span<char> pair = stackalloc char[2];
        for (var i = 0; i < ids.Length; i++)
        {
            var id = ids[i];
            if ((uint)id >= (uint)VocabularySize)
            {
                throw TokenizerErrors.IdOutOfRange(nameof(ids), id, i, VocabularySize);
            }

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
    /// <remarks>The payload is JSON <c>{"alphabet": "...", "unknown": false}</c>.</remarks>
    public TokenizerDescription Describe()
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
            json.WriteEndObject();
        }

        return new TokenizerDescription(Kind, Encoding.UTF8.GetString(stream.ToArray()));
    }

        private bool EncodeOrdinary(ReadOnlySpan<char> text, int start, int end, ref IdWriter writer)
    {
        var position = start;
        while (position < end)
        {
            int id;
            var c = text[position];
            if (c < 128 && _asciiIds[c] >= 0)
            {
                id = _asciiIds[c];
                position++;
            }
            else
            {
                Rune.DecodeFromUtf16(text[position..end], out var rune, out var consumed);
                if (!_ids.TryGetValue(rune.Value, out id))
                {
                    id = UnknownTokenId ?? throw new ArgumentException(
                        $"Character {Show(rune)} at index {position} is not in the tokenizer's alphabet of {_alphabet.Length} characters.",
                        nameof(text));
                }

                position += consumed;
            }

            if (!writer.Add(id))
            {
                return false;
            }
        }

        return true;
    }

    private static string Show(Rune rune) =>
        Rune.IsControl(rune) || Rune.IsWhiteSpace(rune)
            ? $"U+{rune.Value:X4}"
            : $"'{rune}' (U+{rune.Value:X4})";

    /// <summary>The ordinary (special-free) encode path, for <see cref="SpecialAwareEncoding"/>.</summary>
    private readonly struct Ordinary(CharTokenizer tokenizer) : IOrdinaryEncoder
    {
        public bool Encode(ReadOnlySpan<char> text, int start, int end, ref IdWriter writer) => tokenizer.EncodeOrdinary(text, start, end, ref writer);
    }
}
