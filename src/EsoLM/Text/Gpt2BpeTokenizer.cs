using System.Buffers;
using System.Collections.Concurrent;
using System.Collections.ObjectModel;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace EsoLM.Text;

/// <summary>
/// Byte-level BPE exactly as GPT-2 / tiktoken: text is split into pieces by the GPT-2 pattern (on code points), each
/// piece's UTF-8 bytes are merged by rank, and a piece that is itself a vocabulary entry becomes that token directly.
/// Loaded from a GPT-2 <c>encoder.json</c> + <c>vocab.bpe</c> pair (or from its self-contained
/// <see cref="Describe">description</see>). Thread-safe; frequent pieces are cached (at most 100,000 pieces of up to 48
/// characters; the cache is cleared when full). Special tokens are the vocabulary entries that are neither a single byte
/// nor the result of a merge (GPT-2: <c>&lt;|endoftext|&gt;</c> = 50256). A lone surrogate in the input is encoded as
/// U+FFFD, as UTF-8 encoding does.
/// </summary>
public sealed class Gpt2BpeTokenizer : ITokenizer
{
    /// <summary>The <see cref="TokenizerDescription.Kind"/> of this tokenizer.</summary>
    public const string Kind = "gpt2";

    /// <summary>The GPT-2 end-of-text special token.</summary>
    public const string EndOfText = "<|endoftext|>";

    private const int MaxCachedPieceLength = 48;
    private const int MaxCacheEntries = 100_000;
    private const int SmallPieceBytes = 96;
    private const int NoRank = int.MaxValue;

    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly short[] CharToByte = BuildCharToByte();

    private readonly string[] _tokenTexts;
    private readonly (string Left, string Right)[] _merges;
    private readonly byte[][] _tokenBytes;
    private readonly int[] _byteIds = new int[256];
    private readonly Dictionary<byte[], (int Id, int Rank)>.AlternateLookup<ReadOnlySpan<byte>> _ordinary;
    private readonly SpecialTokenScanner _scanner;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheLookup;
    private readonly Lazy<TokenizerDescription> _description;
    private int _cacheCount;

    private Gpt2BpeTokenizer(string[] tokenTexts, (string Left, string Right)[] merges)
    {
        _tokenTexts = tokenTexts;
        _merges = merges;
        var count = tokenTexts.Length;
        var tokenIds = new Dictionary<string, int>(count, StringComparer.Ordinal);
        for (var id = 0; id < count; id++)
        {
            tokenIds.Add(tokenTexts[id], id);
        }

        // Ordinary tokens: the 256 single bytes and every merge result (rank = merge line); everything else is special.
        var ranks = new int[count];
        Array.Fill(ranks, -1);
        var byteTokens = 0;
        for (var b = 0; b < 256; b++)
        {
            var text = ByteToChar[b].ToString();
            if (!tokenIds.TryGetValue(text, out var id))
            {
                throw new InvalidDataException($"The vocabulary has no token for byte {b} ('{text}').");
            }

            _byteIds[b] = id;
            ranks[id] = NoRank;
            byteTokens++;
        }

        for (var m = 0; m < merges.Length; m++)
        {
            var (left, right) = merges[m];
            if (!tokenIds.ContainsKey(left) || !tokenIds.ContainsKey(right) || !tokenIds.TryGetValue(left + right, out var merged))
            {
                throw new InvalidDataException($"Merge {m} ('{left} {right}') refers to tokens that are not in the vocabulary.");
            }

            if (ranks[merged] < 0)
            {
                ranks[merged] = m;
            }
        }

        var ordinary = new Dictionary<byte[], (int Id, int Rank)>(count, ByteSequenceComparer.Instance);
        var specials = new Dictionary<string, int>(StringComparer.Ordinal);
        _tokenBytes = new byte[count][];
        for (var id = 0; id < count; id++)
        {
            if (ranks[id] < 0)
            {
                specials.Add(tokenTexts[id], id);
                _tokenBytes[id] = Encoding.UTF8.GetBytes(tokenTexts[id]);
            }
            else
            {
                var bytes = ToBytes(tokenTexts[id])
                    ?? throw new InvalidDataException($"Token {id} ('{tokenTexts[id]}') is not a byte-level token.");
                _tokenBytes[id] = bytes;
                if (!ordinary.TryAdd(bytes, (id, ranks[id])))
                {
                    throw new InvalidDataException($"Token {id} ('{tokenTexts[id]}') duplicates token {ordinary[bytes].Id}.");
                }
            }
        }

        _ordinary = ordinary.GetAlternateLookup<ReadOnlySpan<byte>>();
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        SpecialTokens = new ReadOnlyDictionary<string, int>(specials);
        _scanner = new SpecialTokenScanner(specials);
        EndOfTextId = specials.TryGetValue(EndOfText, out var eot) ? eot : null;
        _description = new Lazy<TokenizerDescription>(BuildDescription);
    }

    /// <inheritdoc/>
    public int VocabularySize => _tokenTexts.Length;

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <inheritdoc/>
    public int? EndOfTextId { get; }

    /// <inheritdoc/>
    public int? MaskTokenId => null;

    /// <summary>Number of merge rules.</summary>
    public int MergeCount => _merges.Length;

    /// <summary>Loads a GPT-2 vocabulary from its <c>encoder.json</c> (token → id) and <c>vocab.bpe</c> (merges by priority).</summary>
    /// <param name="encoderJsonPath">Path of <c>encoder.json</c>.</param>
    /// <param name="vocabBpePath">Path of <c>vocab.bpe</c>.</param>
    /// <returns>The tokenizer.</returns>
    public static Gpt2BpeTokenizer Load(string encoderJsonPath, string vocabBpePath)
    {
        ArgumentException.ThrowIfNullOrEmpty(encoderJsonPath);
        ArgumentException.ThrowIfNullOrEmpty(vocabBpePath);
        using var encoder = File.OpenRead(encoderJsonPath);
        using var merges = File.OpenRead(vocabBpePath);
        return Load(encoder, merges);
    }

    /// <summary>Loads a GPT-2 vocabulary from streams holding <c>encoder.json</c> and <c>vocab.bpe</c>.</summary>
    /// <param name="encoderJson">The <c>encoder.json</c> content (UTF-8 JSON object, token → id).</param>
    /// <param name="vocabBpe">The <c>vocab.bpe</c> content (UTF-8, one merge "A B" per line; <c>#version</c> lines ignored).</param>
    /// <returns>The tokenizer.</returns>
    public static Gpt2BpeTokenizer Load(Stream encoderJson, Stream vocabBpe)
    {
        ArgumentNullException.ThrowIfNull(encoderJson);
        ArgumentNullException.ThrowIfNull(vocabBpe);
        using var document = JsonDocument.Parse(encoderJson, new JsonDocumentOptions { MaxDepth = 4 });
        var tokens = ReadEncoder(document.RootElement);

        using var reader = new StreamReader(vocabBpe, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, leaveOpen: true);
        var merges = new List<(string, string)>(50_000);
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0 || line.StartsWith("#version", StringComparison.Ordinal))
            {
                continue;
            }

            merges.Add(ParseMerge(line, lineNumber));
        }

        return new Gpt2BpeTokenizer(tokens, [.. merges]);
    }

    /// <summary>Rebuilds a tokenizer from the payload of a <c>gpt2</c> <see cref="TokenizerDescription"/>.</summary>
    /// <param name="description">A description produced by <see cref="Describe"/>.</param>
    /// <returns>The tokenizer.</returns>
    public static Gpt2BpeTokenizer FromDescription(TokenizerDescription description)
    {
        ArgumentNullException.ThrowIfNull(description);
        if (!string.Equals(description.Kind, Kind, StringComparison.Ordinal))
        {
            throw new ArgumentException($"Expected a '{Kind}' description, got kind '{description.Kind}'.", nameof(description));
        }

        using var document = JsonDocument.Parse(description.Payload);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("encoder", out var encoder)
            || !root.TryGetProperty("merges", out var mergesElement)
            || mergesElement.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException("A gpt2 tokenizer payload must be a JSON object with 'encoder' (object) and 'merges' (array).");
        }

        var tokens = ReadEncoder(encoder);
        var merges = new (string, string)[mergesElement.GetArrayLength()];
        var index = 0;
        foreach (var merge in mergesElement.EnumerateArray())
        {
            merges[index] = ParseMerge(merge.GetString() ?? string.Empty, index + 1);
            index++;
        }

        return new Gpt2BpeTokenizer(tokens, merges);
    }

    /// <inheritdoc/>
    public int[] Encode(string text, bool allowSpecial = false) =>
        SpecialAwareEncoding.Encode(_scanner, new Ordinary(this), text, allowSpecial, ((text ?? throw new ArgumentNullException(nameof(text))).Length / 3) + 16);

    /// <inheritdoc/>
    public bool TryEncode(ReadOnlySpan<char> text, Span<int> destination, out int written, bool allowSpecial = false) =>
        SpecialAwareEncoding.TryEncode(_scanner, new Ordinary(this), text, destination, out written, allowSpecial);

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var total = 0;
        for (var i = 0; i < ids.Length; i++)
        {
            var id = ids[i];
            if ((uint)id >= (uint)_tokenBytes.Length)
            {
                throw TokenizerErrors.IdOutOfRange(nameof(ids), id, i, _tokenBytes.Length);
            }

            total += _tokenBytes[id].Length;
        }

        var rented = ArrayPool<byte>.Shared.Rent(Math.Max(total, 1));
        try
        {
            var offset = 0;
            foreach (var id in ids)
            {
                var bytes = _tokenBytes[id];
                bytes.CopyTo(rented, offset);
                offset += bytes.Length;
            }

            return Encoding.UTF8.GetString(rented, 0, total);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>The bytes that token <paramref name="id"/> stands for.</summary>
    /// <param name="id">A token id.</param>
    /// <returns>The token's bytes (a special token's UTF-8 text).</returns>
    public ReadOnlySpan<byte> GetTokenBytes(int id)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(id, VocabularySize);
        return _tokenBytes[id];
    }

    /// <inheritdoc/>
    /// <remarks>The payload is JSON <c>{"encoder": {token: id, ...}, "merges": ["A B", ...]}</c> (about 1.5 MB for GPT-2).</remarks>
    public TokenizerDescription Describe() => _description.Value;

        private bool EncodeOrdinary(ReadOnlySpan<char> text, ref IdWriter writer)
    {
        Span<int> scratch = stackalloc int[MaxCachedPieceLength * 3];
        var position = 0;
        while (position < text.Length)
        {
            var length = Gpt2PreTokenizer.NextPieceLength(text, position);
            var piece = text.Slice(position, length);
            position += length;

            if (length <= MaxCachedPieceLength)
            {
                if (_cacheLookup.TryGetValue(piece, out var cached))
                {
                    if (!writer.AddRange(cached))
                    {
                        return false;
                    }

                    continue;
                }

                var pieceWriter = new IdWriter(scratch);
                EncodePiece(piece, ref pieceWriter);
                var ids = pieceWriter.Written;
                if (Interlocked.Increment(ref _cacheCount) > MaxCacheEntries)
                {
                    _cache.Clear();
                    Interlocked.Exchange(ref _cacheCount, 0);
                }

                _cacheLookup.TryAdd(piece, ids.ToArray());
                if (!writer.AddRange(ids))
                {
                    return false;
                }
            }
            else if (!EncodePiece(piece, ref writer))
            {
                return false;
            }
        }

        return true;
    }

    private bool EncodePiece(ReadOnlySpan<char> piece, ref IdWriter writer)
    {
        var maxBytes = piece.Length * 3;
        byte[]? rented = null;
        Span<byte> buffer = maxBytes <= 512 ? stackalloc byte[512] : (rented = ArrayPool<byte>.Shared.Rent(maxBytes));
        try
        {
            var count = Encoding.UTF8.GetBytes(piece, buffer);
            return BytePairEncode(buffer[..count], ref writer);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Merges the bytes of one piece (exposed to tests, which check both merge algorithms agree).</summary>
    internal bool BytePairEncode(scoped ReadOnlySpan<byte> piece, ref IdWriter writer, bool forceHeap = false)
    {
        if (piece.Length == 1)
        {
            return writer.Add(_byteIds[piece[0]]);
        }

        if (_ordinary.TryGetValue(piece, out var whole))
        {
            return writer.Add(whole.Id);
        }

        return piece.Length <= SmallPieceBytes && !forceHeap
            ? MergeByScan(piece, ref writer)
            : MergeByHeap(piece, ref writer);
    }

    private int RankOf(ReadOnlySpan<byte> bytes) => _ordinary.TryGetValue(bytes, out var token) ? token.Rank : NoRank;

    private int IdOf(ReadOnlySpan<byte> bytes) => bytes.Length == 1 ? _byteIds[bytes[0]] : _ordinary[bytes].Id;

    /// <summary>tiktoken's quadratic merge: repeatedly merge the lowest-ranked adjacent pair (leftmost on a tie).</summary>
    private bool MergeByScan(scoped ReadOnlySpan<byte> piece, ref IdWriter writer)
    {
        var n = piece.Length;
        Span<int> starts = stackalloc int[n + 1];
        Span<int> ranks = stackalloc int[n];
        for (var i = 0; i <= n; i++)
        {
            starts[i] = i;
        }

        var parts = n;
        for (var k = 0; k < parts - 1; k++)
        {
            ranks[k] = RankOf(piece.Slice(k, 2));
        }

        while (parts > 1)
        {
            var best = 0;
            var bestRank = NoRank;
            for (var k = 0; k < parts - 1; k++)
            {
                if (ranks[k] < bestRank)
                {
                    bestRank = ranks[k];
                    best = k;
                }
            }

            if (bestRank == NoRank)
            {
                break;
            }

            // Merge part best with part best+1: drop boundary best+1 and pair rank best+1.
            starts.Slice(best + 2, parts - best - 1).CopyTo(starts[(best + 1)..]);
            if (parts - best - 3 > 0)
            {
                ranks.Slice(best + 2, parts - best - 3).CopyTo(ranks[(best + 1)..]);
            }

            parts--;
            ranks[best] = best < parts - 1 ? RankOf(piece[starts[best]..starts[best + 2]]) : NoRank;
            if (best > 0)
            {
                ranks[best - 1] = RankOf(piece[starts[best - 1]..starts[best + 1]]);
            }
        }

        for (var k = 0; k < parts; k++)
        {
            if (!writer.Add(IdOf(piece[starts[k]..starts[k + 1]])))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The same merge order as <see cref="MergeByScan"/> in O(n log n), for long pieces.</summary>
    private bool MergeByHeap(scoped ReadOnlySpan<byte> piece, ref IdWriter writer)
    {
        var n = piece.Length;
        var end = ArrayPool<int>.Shared.Rent(n);
        var previous = ArrayPool<int>.Shared.Rent(n);
        try
        {
            var queue = new PriorityQueue<(int Left, int Right, int End), long>();
            for (var i = 0; i < n; i++)
            {
                end[i] = i + 1;
                previous[i] = i - 1;
                if (i + 1 < n)
                {
                    Enqueue(queue, i, i + 1, i + 2, RankOf(piece.Slice(i, 2)));
                }
            }

            while (queue.TryDequeue(out var pair, out _))
            {
                var (left, right, rightEnd) = pair;
                if (end[left] != right || end[right] != rightEnd)
                {
                    continue; // stale: one of the two parts has merged since
                }

                end[left] = rightEnd;
                end[right] = -1;
                if (rightEnd < n)
                {
                    previous[rightEnd] = left;
                    Enqueue(queue, left, rightEnd, end[rightEnd], RankOf(piece[left..end[rightEnd]]));
                }

                if (left > 0)
                {
                    var before = previous[left];
                    Enqueue(queue, before, left, rightEnd, RankOf(piece[before..rightEnd]));
                }
            }

            for (var start = 0; start < n; start = end[start])
            {
                if (!writer.Add(IdOf(piece[start..end[start]])))
                {
                    return false;
                }
            }

            return true;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(end);
            ArrayPool<int>.Shared.Return(previous);
        }

        static void Enqueue(PriorityQueue<(int, int, int), long> queue, int left, int right, int rightEnd, int rank)
        {
            if (rank != NoRank)
            {
                queue.Enqueue((left, right, rightEnd), ((long)rank << 32) | (uint)left);
            }
        }
    }

    private TokenizerDescription BuildDescription()
    {
        var buffer = new ArrayBufferWriter<byte>(2 << 20);
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteStartObject("encoder");
            for (var id = 0; id < _tokenTexts.Length; id++)
            {
                json.WriteNumber(_tokenTexts[id], id);
            }

            json.WriteEndObject();
            json.WriteStartArray("merges");
            foreach (var (left, right) in _merges)
            {
                json.WriteStringValue(left + " " + right);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return new TokenizerDescription(Kind, Encoding.UTF8.GetString(buffer.WrittenSpan));
    }

    private static string[] ReadEncoder(JsonElement encoder)
    {
        if (encoder.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException("The encoder must be a JSON object mapping token text to id.");
        }

        var entries = new List<(string Text, int Id)>(50_257);
        foreach (var property in encoder.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.Number || !property.Value.TryGetInt32(out var id) || id < 0)
            {
                throw new InvalidDataException($"Encoder entry '{property.Name}' has an invalid id {property.Value}.");
            }

            entries.Add((property.Name, id));
        }

        var texts = new string?[entries.Count];
        foreach (var (text, id) in entries)
        {
            if (id >= texts.Length)
            {
                throw new InvalidDataException($"Encoder ids must be 0..{texts.Length - 1}; '{text}' has id {id}.");
            }

            if (texts[id] is not null)
            {
                throw new InvalidDataException($"Encoder id {id} is used by both '{texts[id]}' and '{text}'.");
            }

            texts[id] = text;
        }

        return texts!;
    }

    private static (string Left, string Right) ParseMerge(string line, int lineNumber)
    {
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        if (space <= 0 || space == line.Length - 1 || line.IndexOf(' ', space + 1) >= 0)
        {
            throw new InvalidDataException($"Merge line {lineNumber} ('{line}') is not of the form 'A B'.");
        }

        return (line[..space], line[(space + 1)..]);
    }

    /// <summary>Maps a token's byte-level text back to its bytes, or null if a character is outside the byte alphabet.</summary>
    private static byte[]? ToBytes(string tokenText)
    {
        var bytes = new byte[tokenText.Length];
        for (var i = 0; i < tokenText.Length; i++)
        {
            var c = tokenText[i];
            if (c >= CharToByte.Length || CharToByte[c] < 0)
            {
                return null;
            }

            bytes[i] = (byte)CharToByte[c];
        }

        return bytes;
    }

    private static short[] BuildCharToByte()
    {
        var map = new short[512];
        Array.Fill(map, (short)-1);
        for (var b = 0; b < 256; b++)
        {
            map[ByteToChar[b]] = (short)b;
        }

        return map;
    }

    /// <summary>GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to U+0100 onwards.</summary>
    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }

        return map;
    }

    /// <summary>The ordinary (special-free) encode path, for <see cref="SpecialAwareEncoding"/>.</summary>
    private readonly struct Ordinary(Gpt2BpeTokenizer tokenizer) : IOrdinaryEncoder
    {
        public bool Encode(ReadOnlySpan<char> text, int start, int end, ref IdWriter writer) => tokenizer.EncodeOrdinary(text[start..end], ref writer);
    }
}
