using EsoLM.Text;
using EsoLM.Data;

namespace EsoLM.Tests.Text;

public sealed class WordTokenizerTests
{
    [Fact]
    public void Built_in_language_round_trips_with_a_small_vocabulary()
    {
        string corpus = BuiltInLanguage.Corpus(4, 200, 4);
        var tok = WordTokenizer.FromCorpus(corpus);
        var ids = tok.Encode(corpus);
        Assert.Equal(corpus, tok.Decode(ids));
        Assert.InRange(tok.VocabularySize, 50, 1000);
        // Whole words: far fewer tokens than characters.
        Assert.True(ids.Length * 3 < corpus.Length, $"{ids.Length} tokens for {corpus.Length} characters");
        // Text of another seed uses the same lexicon, so it is covered too.
        var other = BuiltInLanguage.Corpus(99, 20, 4);
        Assert.Equal(other, tok.Decode(tok.Encode(other)));
    }

    [Fact]
    public void Pieces_keep_their_leading_space_and_punctuation_is_separate()
    {
        var tok = WordTokenizer.FromCorpus("The cat sleeps. A dog runs.");
        var ids = tok.Encode("The dog sleeps. A cat runs.");
        Assert.Equal(["The", " dog", " sleeps", ".", " A", " cat", " runs", "."], ids.Select(i => tok.Decode([i])));
    }

    [Fact]
    public void Unknown_piece_is_named_or_mapped_to_unk()
    {
        var strict = WordTokenizer.FromCorpus("the cat");
        var ex = Assert.Throws<ArgumentException>(() => strict.Encode("the dog"));
        Assert.Contains("\" dog\"", ex.Message, StringComparison.Ordinal);
        var lenient = WordTokenizer.FromCorpus("the cat", withUnknownToken: true);
        Assert.Equal([lenient.Encode("the")[0], lenient.UnknownTokenId!.Value], lenient.Encode("the dog"));
    }

    [Fact]
    public void Description_round_trips_and_specials_work()
    {
        var tok = WordTokenizer.FromCorpus("Hello world. Hello there.", allowSpecialTokens: true);
        var again = TokenizerFactory.FromDescription(tok.Describe());
        const string text = "Hello world.<|endoftext|>Hello there.";
        Assert.Equal(tok.Encode(text), again.Encode(text));
        Assert.Contains(tok.EndOfTextId!.Value, tok.Encode(text));
        Assert.Equal(tok.Encode("Hello world."), tok.EncodeToIds("Hello world. Hello", 3, out _, out int consumed).ToArray());
        Assert.Equal("Hello world.".Length, consumed);
    }
}
