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
    public void Unknown_description_kind_is_rejected()
    {
        var error = Assert.Throws<ArgumentException>(() => TokenizerFactory.FromDescription(new TokenizerDescription("wordpiece", "{}")));
        Assert.Contains("wordpiece", error.Message, StringComparison.Ordinal);
    }
}
