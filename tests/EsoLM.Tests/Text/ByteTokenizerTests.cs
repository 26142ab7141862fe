using EsoLM.Text;

namespace EsoLM.Tests.Text;

public sealed class ByteTokenizerTests
{
    private readonly ByteTokenizer _tokenizer = new();

    [Fact]
    public void Ids_are_utf8_bytes_then_end_of_text()
    {
        Assert.Equal(257, _tokenizer.VocabularySize);
        Assert.Equal(256, _tokenizer.EndOfTextId);
        Assert.Null(TokenizerVocabulary.Of(_tokenizer).MaskTokenId);
        Assert.Equal(256, _tokenizer.SpecialTokens["<|endoftext|>"]);
        Assert.Equal([0x68, 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80], _tokenizer.Encode("hé😀"));
    }

    [Fact]
    public void End_of_text_is_special_only_when_allowed()
    {
        Assert.Equal([0x61, 256, 0x62], new ByteTokenizer(allowSpecialTokens: true).Encode("a<|endoftext|>b"));
        Assert.Equal(15, _tokenizer.Encode("a<|endoftext|>b").Length);
        Assert.Equal("a<|endoftext|>b", _tokenizer.Decode([0x61, 256, 0x62]));
    }

    [Fact]
    public void Invalid_utf8_decodes_to_replacement_characters()
    {
        Assert.Equal("a\uFFFDb", _tokenizer.Decode([0x61, 0xFF, 0x62]));
        Assert.Equal("\uFFFD", _tokenizer.Decode([0xF0, 0x9F]));
    }

    [Fact]
    public void Decode_rejects_ids_outside_the_vocabulary()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _tokenizer.Decode([1, 257]));
        Assert.Contains("257", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => _tokenizer.Decode([-3]));
    }

    [Fact]
    public void Long_text_with_astral_characters_across_chunk_boundaries_round_trips()
    {
        var text = string.Concat(Enumerable.Repeat("ab😀", 1000)) + string.Concat(Enumerable.Repeat("😀", 700));
        Assert.Equal(text, _tokenizer.Decode(_tokenizer.Encode(text)));
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(text), _tokenizer.Encode(text).Length);
    }

    [Fact]
    public void Description_round_trips()
    {
        var description = _tokenizer.Describe();
        Assert.Equal(new TokenizerDescription("byte", string.Empty), description);
        Assert.Equal(description, TokenizerFactory.FromDescription(description).Describe());
        Assert.IsType<ByteTokenizer>(TokenizerFactory.FromDescription(description));
    }
}
