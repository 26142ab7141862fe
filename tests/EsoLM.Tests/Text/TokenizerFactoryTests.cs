using EsoLM.Tests.Support;
using EsoLM.Text;

namespace EsoLM.Tests.Text;

public sealed class TokenizerFactoryTests
{
    [Fact]
    public void Builds_each_spec_form()
    {
        Assert.IsType<ByteTokenizer>(TokenizerFactory.FromSpec("byte"));

        var gpt2 = TokenizerFactory.FromSpec("gpt2:" + SharedData.Gpt2Vocabulary);
        Assert.Equal([15496, 11, 995], gpt2.Encode("Hello, world"));

        var corpus = Path.GetTempFileName();
        try
        {
            File.WriteAllText(corpus, "cab😀");
            var chars = TokenizerFactory.FromSpec("char:" + corpus);
            Assert.Equal([0, 1, 2, 3], chars.Encode("abc😀"));
        }
        finally
        {
            File.Delete(corpus);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("bpe")]
    [InlineData("gpt2")]
    [InlineData("gpt2:")]
    [InlineData("char")]
    [InlineData("bytes")]
    [InlineData("wordpiece:vocab.txt")]
    public void Unknown_spec_lists_the_accepted_forms(string spec)
    {
        var error = Assert.Throws<ArgumentException>(() => TokenizerFactory.FromSpec(spec));
        Assert.Contains("'byte'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'gpt2:DIR'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'char:FILE'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_paths_are_reported()
    {
        Assert.Throws<DirectoryNotFoundException>(() => TokenizerFactory.FromSpec("gpt2:/no/such/dir"));
        Assert.Throws<FileNotFoundException>(() => TokenizerFactory.FromSpec("char:/no/such/file.txt"));
        Assert.Throws<FileNotFoundException>(() => TokenizerFactory.FromSpec("bert:/no/such/vocab.txt"));
        Assert.Throws<FileNotFoundException>(() => TokenizerFactory.FromSpec("sentencepiece:/no/such/model"));
        Assert.Throws<InvalidDataException>(() => TokenizerFactory.FromSpec("tiktoken:no_such_encoding"));
        Assert.Throws<FileNotFoundException>(() => TokenizerFactory.FromSpec("gpt2:" + Path.GetTempPath()));
    }

    [Fact]
    public void Descriptions_that_cannot_be_rebuilt_fail_clearly()
    {
        var noPackage = Assert.Throws<InvalidDataException>(() => TokenizerFactory.FromDescription(new TokenizerDescription("tiktoken", "no_such_encoding")));
        Assert.Contains("no_such_encoding", noPackage.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => TokenizerFactory.FromDescription(new TokenizerDescription("bert", "{\"vocab\": 3}")));
        Assert.Throws<InvalidDataException>(() => TokenizerFactory.FromDescription(new TokenizerDescription("gpt2", "not json")));
        Assert.Throws<InvalidDataException>(() => TokenizerFactory.FromDescription(new TokenizerDescription("sentencepiece", "{\"model\": \"!!\"}")));
    }

    [Fact]
    public void Tokenizer_built_outside_the_factory_cannot_be_described()
    {
        var outside = Microsoft.ML.Tokenizers.TiktokenTokenizer.CreateForModel("gpt2");
        Assert.Null(outside.TryDescribe());
        var error = Assert.Throws<NotSupportedException>(() => outside.Describe());
        Assert.Contains("TokenizerFactory", error.Message, StringComparison.Ordinal);

        // It still has a vocabulary (probed): the same as the factory-built one.
        Assert.Equal(TokenizerVocabulary.Of(TestTokenizers.TiktokenGpt2).Size, TokenizerVocabulary.Of(outside).Size);
    }

    [Fact]
    public void Unknown_description_kind_is_rejected()
    {
        var error = Assert.Throws<ArgumentException>(() => TokenizerFactory.FromDescription(new TokenizerDescription("wordpiece", "{}")));
        Assert.Contains("wordpiece", error.Message, StringComparison.Ordinal);
    }
}

public sealed class SentencePieceTokenizerTests : IDisposable
{
    private static readonly string[] Pieces = ["▁the", "▁cat", "▁sat", "▁on", "▁a", "▁mat", "s", "▁", "t", "h", "e", "c", "a", "m", "o", "n", "."];

    private readonly string _dir = Directory.CreateTempSubdirectory("esolm-spm-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Sentencepiece_model_loads_describes_itself_and_round_trips()
    {
        var path = Path.Combine(_dir, "tiny.model");
        File.WriteAllBytes(path, SentencePieceModels.Unigram(Pieces));
        var tokenizer = TokenizerFactory.FromSpec("sentencepiece:" + path);
        Assert.IsAssignableFrom<Microsoft.ML.Tokenizers.SentencePieceTokenizer>(tokenizer);

        var vocabulary = TokenizerVocabulary.Of(tokenizer);
        Assert.Equal(Pieces.Length + 3, vocabulary.Size);
        Assert.Equal(2, vocabulary.EndOfTextId);
        Assert.Null(vocabulary.MaskTokenId);

        const string text = "the cats sat on a mat.";
        var ids = tokenizer.Encode(text);
        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.Equal(3 + Array.IndexOf(Pieces, "▁the"), ids[0]);
        Assert.DoesNotContain(0, ids);

        var description = tokenizer.Describe();
        Assert.Equal(TokenizerFactory.SentencePieceKind, description.Kind);
        File.Delete(path);
        var rebuilt = TokenizerFactory.FromDescription(description);
        Assert.Equal(ids, rebuilt.Encode(text));
    }

    [Fact]
    public void Corrupt_sentencepiece_model_is_a_clear_error()
    {
        var path = Path.Combine(_dir, "corrupt.model");
        File.WriteAllBytes(path, [0x0A, 0xFF, 0xFF, 0x01]);
        var error = Assert.ThrowsAny<Exception>(() => TokenizerFactory.FromSpec("sentencepiece:" + path));
        Assert.True(error is InvalidDataException, error.ToString());
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }
}
