using System.Text.Json;
using EsoLM.Tests.Support;
using EsoLM.Text;
using FsCheck.Xunit;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Tests.Text;

/// <summary>GPT-2 through ML.Tokenizers: BPE from encoder.json + vocab.bpe (gpt2:DIR) and the Tiktoken data package.</summary>
public sealed class Gpt2TokenizerTests
{
    [Fact]
    public void Gpt2_dir_reproduces_the_golden_file_in_both_modes()
    {
        var failures = new List<string>();
        var golden = TestTokenizers.Golden;
        Assert.NotEmpty(golden);
        for (var i = 0; i < golden.Count; i++)
        {
            Compare(i, golden[i].Text, "gpt2:DIR special allowed", golden[i].IdsSpecialAllowed, TestTokenizers.Gpt2Special.Encode(golden[i].Text), failures);
            Compare(i, golden[i].Text, "gpt2:DIR special as text", golden[i].IdsSpecialAsText, TestTokenizers.Gpt2.Encode(golden[i].Text), failures);
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public void Tiktoken_gpt2_reproduces_the_golden_file_in_both_modes()
    {
        var failures = new List<string>();
        var golden = TestTokenizers.Golden;
        for (var i = 0; i < golden.Count; i++)
        {
            Compare(i, golden[i].Text, "tiktoken:gpt2 special allowed", golden[i].IdsSpecialAllowed, TestTokenizers.TiktokenGpt2.Encode(golden[i].Text), failures);
            Compare(i, golden[i].Text, "tiktoken:gpt2 special as text", golden[i].IdsSpecialAsText, TestTokenizers.TiktokenGpt2AsText.Encode(golden[i].Text), failures);
        }

        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public void Golden_ids_decode_back_to_the_text()
    {
        foreach (var entry in TestTokenizers.Golden)
        {
            Assert.Equal(entry.Text, TestTokenizers.Gpt2.Decode(entry.IdsSpecialAsText));
            Assert.Equal(entry.Text, TestTokenizers.Gpt2Special.Decode(entry.IdsSpecialAllowed));
            Assert.Equal(entry.Text, TestTokenizers.TiktokenGpt2.Decode(entry.IdsSpecialAllowed));
            Assert.Equal(entry.Text, TestTokenizers.TiktokenGpt2AsText.Decode(entry.IdsSpecialAllowed));
        }
    }

    [Fact]
    public void Vocabulary_matches_the_files()
    {
        using var encoderFile = File.OpenRead(Path.Combine(SharedData.Gpt2Vocabulary, "encoder.json"));
        var encoder = JsonSerializer.Deserialize<Dictionary<string, int>>(encoderFile)!;
        var size = encoder.Values.Max() + 1;
        var eos = encoder["<|endoftext|>"];
        foreach (var tokenizer in new[] { TestTokenizers.Gpt2, TestTokenizers.Gpt2Special, TestTokenizers.TiktokenGpt2, TestTokenizers.TiktokenGpt2AsText })
        {
            var vocabulary = TokenizerVocabulary.Of(tokenizer);
            Assert.Equal(size, vocabulary.Size);
            Assert.Equal(eos, vocabulary.EndOfTextId);
            Assert.Null(vocabulary.MaskTokenId);
            Assert.Equal(size + 1, vocabulary.ModelVocabularySize);
            Assert.Equal(size, vocabulary.ModelMaskTokenId);
        }

        Assert.Equal(eos, TokenizerVocabulary.Of(TestTokenizers.Gpt2Special).SpecialTokens["<|endoftext|>"]);
    }

    [Fact]
    public void Cl100k_vocabulary_ends_after_its_last_special_token()
    {
        var cl100k = (TiktokenTokenizer)TokenizerFactory.FromSpec("tiktoken:cl100k_base", allowSpecial: true);
        var vocabulary = TokenizerVocabulary.Of(cl100k);
        var specials = cl100k.SpecialTokens!;
        Assert.Equal(specials.Values.Max() + 1, vocabulary.Size);
        Assert.Equal(specials["<|endoftext|>"], vocabulary.EndOfTextId);
        const string text = "Eso-LMs unmask in parallel, then go left to right. 日本語 😀";
        Assert.Equal(text, cl100k.Decode(cl100k.Encode(text)));
        Assert.All(cl100k.Encode(text), id => Assert.InRange(id, 0, vocabulary.Size - 1));

        // The special-as-text variant: the same ids on text without special tokens, the special token's text as text.
        var asText = TokenizerFactory.FromSpec("tiktoken:cl100k_base");
        Assert.Equal(cl100k.Encode(text), asText.Encode(text));
        Assert.Equal([specials["<|endoftext|>"]], cl100k.Encode("<|endoftext|>"));
        Assert.DoesNotContain(specials["<|endoftext|>"], asText.Encode("<|endoftext|>"));
        Assert.Equal("<|endoftext|>", asText.Decode(asText.Encode("<|endoftext|>")));
        Assert.Equal(vocabulary.Size, TokenizerVocabulary.Of(asText).Size);
    }

    [Property(Arbitrary = [typeof(TextArbitraries)], MaxTest = 200)]
    public void Bpe_and_tiktoken_agree_on_text_without_special_tokens(TestText text)
    {
        var value = text.Value.Replace("<|endoftext|>", string.Empty, StringComparison.Ordinal);
        Assert.Equal(TestTokenizers.Gpt2.Encode(value), TestTokenizers.TiktokenGpt2.Encode(value));
        Assert.Equal(value, TestTokenizers.Gpt2.Decode(TestTokenizers.Gpt2.Encode(value)));
    }

    [Property(Arbitrary = [typeof(TextArbitraries)], MaxTest = 200)]
    public void Encoding_is_the_concatenation_of_the_pieces_encodings(TestText text)
    {
        var expected = new List<int>();
        foreach (var (offset, length) in TestTokenizers.Gpt2.PreTokenizer!.PreTokenize(text.Value))
        {
            expected.AddRange(TestTokenizers.Gpt2.Encode(text.Value.Substring(offset, length)));
        }

        Assert.Equal(expected, TestTokenizers.Gpt2.Encode(text.Value));
    }

    [Fact]
    public void Description_embeds_the_vocabulary_and_round_trips()
    {
        foreach (var tokenizer in new[] { TestTokenizers.Gpt2, TestTokenizers.Gpt2Special })
        {
            var description = tokenizer.Describe();
            Assert.Equal(TokenizerFactory.Gpt2Kind, description.Kind);
            var rebuilt = TokenizerFactory.FromDescription(description);
            Assert.Equal(description, rebuilt.Describe());
            foreach (var entry in TestTokenizers.Golden)
            {
                Assert.Equal(tokenizer.Encode(entry.Text), rebuilt.Encode(entry.Text));
            }
        }

        var tiktoken = TestTokenizers.TiktokenGpt2.Describe();
        Assert.Equal(new TokenizerDescription(TokenizerFactory.TiktokenKind, "gpt2"), tiktoken);
        Assert.IsType<TiktokenTokenizer>(TokenizerFactory.FromDescription(tiktoken));
        var asText = TokenizerFactory.FromDescription(TestTokenizers.TiktokenGpt2AsText.Describe());
        Assert.Equal(TestTokenizers.TiktokenGpt2AsText.Describe(), asText.Describe());
        foreach (var entry in TestTokenizers.Golden)
        {
            Assert.Equal(entry.IdsSpecialAsText, asText.Encode(entry.Text));
        }
    }

    [Fact]
    public void Partial_utf8_decodes_to_replacement_characters()
    {
        var ids = TestTokenizers.Gpt2.Encode("😀");
        Assert.True(ids.Length > 1);
        Assert.Contains('\uFFFD', TestTokenizers.Gpt2.Decode(ids.AsSpan(0, 1)));
    }

    [Fact]
    public void Checked_decode_rejects_ids_outside_the_vocabulary()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => TestTokenizers.Gpt2.Decode((ReadOnlySpan<int>)[15496, 50257]));
        Assert.Equal("ids", error.ParamName);
        Assert.Contains("50257", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Long_pieces_round_trip()
    {
        var text = new string('a', 5000) + " " + string.Concat(Enumerable.Repeat("xyz", 2000)) + new string(' ', 3000) + "end";
        Assert.Equal(text, TestTokenizers.Gpt2.Decode(TestTokenizers.Gpt2.Encode(text)));
    }

    [Fact]
    public void Concurrent_encoding_is_consistent()
    {
        var golden = TestTokenizers.Golden;
        var fresh = TokenizerFactory.FromDescription(TestTokenizers.Gpt2.Describe());
        Parallel.For(0, 200, i =>
        {
            var entry = golden[i % golden.Count];
            Assert.Equal(entry.IdsSpecialAsText, fresh.Encode(entry.Text));
        });
    }

    [Fact]
    public void Too_many_special_tokens_is_a_clear_error_not_a_crash()
    {
        // A byte-level vocabulary (256 single characters) plus more "special" entries (neither a byte nor a merge result) than
        // allowed; with special tokens allowed this must fail with a message naming the count and the limit.
        var dir = Directory.CreateTempSubdirectory("esolm-gpt2-specials-").FullName;
        try
        {
            var encoder = new Dictionary<string, int>();
            foreach (var token in JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(Path.Combine(SharedData.Gpt2Vocabulary, "encoder.json")))!.Keys)
            {
                if (token.Length == 1)
                {
                    encoder[token] = encoder.Count;
                }
            }

            var specials = TokenizerFactory.MaxGpt2SpecialTokens + 1;
            for (var i = 0; i < specials; i++)
            {
                encoder[$"<|s{i}|>"] = encoder.Count;
            }

            File.WriteAllText(Path.Combine(dir, "encoder.json"), JsonSerializer.Serialize(encoder));
            File.WriteAllText(Path.Combine(dir, "vocab.bpe"), "#version: 0.2\n");
            var error = Assert.Throws<ArgumentOutOfRangeException>(() => TokenizerFactory.FromSpec("gpt2:" + dir, allowSpecial: true));
            Assert.Contains(specials.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
            Assert.Contains(TokenizerFactory.MaxGpt2SpecialTokens.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);

            // Without special tokens the same vocabulary loads (its extra entries are just unreachable ids).
            var asText = TokenizerFactory.FromSpec("gpt2:" + dir);
            Assert.Equal(encoder.Count, TokenizerVocabulary.Of(asText).Size);
            Assert.Equal("ab", asText.Decode(asText.Encode("ab")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void Compare(int index, string text, string mode, int[] expected, int[] actual, List<string> failures)
    {
        if (!expected.SequenceEqual(actual))
        {
            failures.Add($"#{index} ({mode}) {JsonSerializer.Serialize(text)}: expected [{string.Join(',', expected)}], got [{string.Join(',', actual)}]");
        }
    }
}
