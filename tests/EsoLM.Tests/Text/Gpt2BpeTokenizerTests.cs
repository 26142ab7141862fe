using System.Text;
using EsoLM.Text;

namespace EsoLM.Tests.Text;

public sealed class Gpt2BpeTokenizerTests
{
    private static Gpt2BpeTokenizer Tokenizer => TestTokenizers.Gpt2;

    [Fact]
    public void Reproduces_golden_file_exactly_in_both_modes()
    {
        var golden = TestTokenizers.Golden;
        Assert.NotEmpty(golden);
        var failures = new List<string>();
        for (var i = 0; i < golden.Count; i++)
        {
            var entry = golden[i];
            Compare(i, entry.Text, "allowSpecial=true", entry.IdsSpecialAllowed, Tokenizer.Encode(entry.Text, allowSpecial: true), failures);
            Compare(i, entry.Text, "allowSpecial=false", entry.IdsSpecialAsText, Tokenizer.Encode(entry.Text, allowSpecial: false), failures);
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public void Golden_ids_decode_back_to_the_text()
    {
        foreach (var entry in TestTokenizers.Golden)
        {
            Assert.Equal(entry.Text, Tokenizer.Decode(entry.IdsSpecialAsText));
            Assert.Equal(entry.Text, Tokenizer.Decode(entry.IdsSpecialAllowed));
        }
    }

    [Fact]
    public void Vocabulary_and_specials_match_gpt2()
    {
        Assert.Equal(50257, Tokenizer.VocabularySize);
        Assert.Equal(50000, Tokenizer.MergeCount);
        Assert.Equal(50256, Tokenizer.EndOfTextId);
        Assert.Null(Tokenizer.MaskTokenId);
        Assert.Equal(new Dictionary<string, int> { ["<|endoftext|>"] = 50256 }, Tokenizer.SpecialTokens);
    }

    [Fact]
    public void Known_encodings()
    {
        Assert.Equal([15496, 11, 995], Tokenizer.Encode("Hello, world"));
        Assert.Equal([50256], Tokenizer.Encode("<|endoftext|>", allowSpecial: true));
        Assert.Equal([27, 91, 437, 1659, 5239, 91, 29], Tokenizer.Encode("<|endoftext|>"));
        Assert.Empty(Tokenizer.Encode(string.Empty));
    }

    [Fact]
    public void Decode_rejects_ids_outside_the_vocabulary()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.Decode([15496, 50257]));
        Assert.Equal("ids", error.ParamName);
        Assert.Contains("50257", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.Decode([-1]));
    }

    [Fact]
    public void Decode_of_partial_utf8_uses_replacement_characters()
    {
        // "😀" is 4 bytes; GPT-2 encodes it as two tokens, neither of which is valid UTF-8 alone.
        var ids = Tokenizer.Encode("😀");
        Assert.True(ids.Length > 1);
        Assert.Contains('\uFFFD', Tokenizer.Decode(ids.AsSpan(0, 1)));
    }

    [Fact]
    public void Description_is_self_contained_and_round_trips()
    {
        var description = Tokenizer.Describe();
        Assert.Equal("gpt2", description.Kind);
        var rebuilt = TokenizerFactory.FromDescription(description);
        Assert.Equal(description, rebuilt.Describe());
        Assert.Equal(Tokenizer.VocabularySize, rebuilt.VocabularySize);
        foreach (var entry in TestTokenizers.Golden)
        {
            Assert.Equal(entry.IdsSpecialAllowed, rebuilt.Encode(entry.Text, allowSpecial: true));
            Assert.Equal(entry.IdsSpecialAsText, rebuilt.Encode(entry.Text));
        }
    }

    [Fact]
    public void Load_from_streams_matches_load_from_files()
    {
        using var encoder = File.OpenRead(Path.Combine(Support.SharedData.Gpt2Vocabulary, "encoder.json"));
        using var merges = File.OpenRead(Path.Combine(Support.SharedData.Gpt2Vocabulary, "vocab.bpe"));
        var fromStreams = Gpt2BpeTokenizer.Load(encoder, merges);
        Assert.Equal(Tokenizer.Describe(), fromStreams.Describe());
    }

    [Fact]
    public void Heap_merge_agrees_with_scan_merge()
    {
        var texts = new[] { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "internationalization", "antidisestablishmentarianism", " supercalifragilistic", "日本語のテキスト", "😀🚀✨👩‍👩‍👧" };
        foreach (var text in texts)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            Assert.Equal(Merge(bytes, forceHeap: false), Merge(bytes, forceHeap: true));
        }

        var random = new Random(1234);
        for (var trial = 0; trial < 300; trial++)
        {
            var bytes = new byte[random.Next(2, 90)];
            var alphabet = "abcdeinrst ."u8.ToArray();
            for (var i = 0; i < bytes.Length; i++)
            {
                bytes[i] = random.Next(4) == 0 ? (byte)random.Next(256) : alphabet[random.Next(alphabet.Length)];
            }

            Assert.Equal(Merge(bytes, forceHeap: false), Merge(bytes, forceHeap: true));
        }
    }

    [Fact]
    public void Long_pieces_encode_and_round_trip()
    {
        var text = new string('a', 5000) + " " + string.Concat(Enumerable.Repeat("xyz", 2000)) + new string(' ', 3000) + "end";
        var ids = Tokenizer.Encode(text);
        Assert.Equal(text, Tokenizer.Decode(ids));
        Assert.Equal(string.Concat(Enumerable.Repeat("aa", 50)), Tokenizer.Decode(Tokenizer.Encode(string.Concat(Enumerable.Repeat("aa", 50)))));
    }

    [Fact]
    public void Concurrent_encoding_is_consistent()
    {
        var golden = TestTokenizers.Golden;
        var fresh = Gpt2BpeTokenizer.FromDescription(Tokenizer.Describe());
        Parallel.For(0, 400, i =>
        {
            var entry = golden[i % golden.Count];
            Assert.Equal(entry.IdsSpecialAsText, fresh.Encode(entry.Text));
        });
    }

    private static int[] Merge(byte[] bytes, bool forceHeap)
    {
        var writer = IdWriter.CreateGrowable(bytes.Length);
        Tokenizer.BytePairEncode(bytes, ref writer, forceHeap);
        return writer.ToArrayAndDispose();
    }

    private static void Compare(int index, string text, string mode, int[] expected, int[] actual, List<string> failures)
    {
        var length = Math.Min(expected.Length, actual.Length);
        var first = Enumerable.Range(0, length).FirstOrDefault(k => expected[k] != actual[k], -1);
        if (first < 0 && expected.Length == actual.Length)
        {
            return;
        }

        first = first < 0 ? length : first;
        failures.Add(
            $"entry {index} ({mode}) text {System.Text.Json.JsonSerializer.Serialize(text)}: first difference at index {first}: " +
            $"expected {(first < expected.Length ? expected[first] : "<end>")}, got {(first < actual.Length ? actual[first] : "<end>")} " +
            $"(expected {expected.Length} ids, got {actual.Length}; expected [{string.Join(',', expected)}], got [{string.Join(',', actual)}])");
    }
}
