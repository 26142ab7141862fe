using EsoLM.Text;

namespace EsoLM.Tests.Text;

public sealed class CharTokenizerTests
{
    [Fact]
    public void Alphabet_is_sorted_by_code_point_and_astral_characters_are_one_token()
    {
        var tokenizer = CharTokenizer.FromCorpus("ba😀a\uFFFF");
        Assert.Equal(4, tokenizer.AlphabetSize);
        Assert.Equal(5, tokenizer.VocabularySize);
        Assert.Equal(4, tokenizer.EndOfTextId);
        Assert.Null(TokenizerVocabulary.Of(tokenizer).MaskTokenId);
        Assert.Null(tokenizer.UnknownTokenId);
        Assert.Equal([0, 1, 2, 3], tokenizer.Encode("ab\uFFFF😀"));
        Assert.Equal("ab\uFFFF😀", tokenizer.Decode([0, 1, 2, 3]));
    }

    [Fact]
    public void End_of_text_is_special_only_when_allowed()
    {
        var tokenizer = CharTokenizer.FromCorpus("abc<|endoftext|>");
        var eot = tokenizer.EndOfTextId!.Value;
        Assert.Equal([tokenizer.Encode("a")[0], eot], CharTokenizer.FromCorpus("abc<|endoftext|>", allowSpecialTokens: true).Encode("a<|endoftext|>"));
        Assert.Equal(14, tokenizer.Encode("a<|endoftext|>").Length);
        Assert.Equal("a<|endoftext|>", tokenizer.Decode([0 + tokenizer.Encode("a")[0], eot]));
    }

    [Fact]
    public void Unknown_character_names_the_character_and_its_index()
    {
        var tokenizer = CharTokenizer.FromCorpus("abc");
        var error = Assert.Throws<ArgumentException>(() => tokenizer.Encode("abxc"));
        Assert.Contains("'x'", error.Message, StringComparison.Ordinal);
        Assert.Contains("U+0078", error.Message, StringComparison.Ordinal);
        Assert.Contains("index 2", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => tokenizer.EncodeToIds("a😀"));
    }

    [Fact]
    public void Unknown_token_option_maps_unknown_characters()
    {
        var tokenizer = CharTokenizer.FromCorpus("abc", withUnknownToken: true);
        Assert.Equal(5, tokenizer.VocabularySize);
        Assert.Equal(4, tokenizer.UnknownTokenId);
        Assert.Equal([0, 4, 2], tokenizer.Encode("a😀c"));
        Assert.Equal("a<unk>c", tokenizer.Decode([0, 4, 2]));
    }

    [Fact]
    public void Decode_rejects_ids_outside_the_vocabulary()
    {
        var tokenizer = CharTokenizer.FromCorpus("abc");
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => tokenizer.Decode([0, 4]));
        Assert.Contains("4", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("hello world\n\t\"quoted\" 😀 \u0001", false)]
    [InlineData("", false)]
    [InlineData("xyz", true)]
    public void Description_round_trips(string corpus, bool withUnknown)
    {
        var tokenizer = CharTokenizer.FromCorpus(corpus, withUnknown);
        var description = tokenizer.Describe();
        Assert.Equal("char", description.Kind);
        var rebuilt = TokenizerFactory.FromDescription(description);
        Assert.Equal(description, rebuilt.Describe());
        Assert.Equal(tokenizer.VocabularySize, TokenizerVocabulary.Of(rebuilt).Size);
        Assert.Equal(tokenizer.Encode(corpus), rebuilt.Encode(corpus));
    }
}
