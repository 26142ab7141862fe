using EsoLM.Tests.Support;

namespace EsoLM.Tests.Text;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleRedirection
{
    public const string Name = "Console (redirects Console.Out/Error)";
}

[Collection(ConsoleRedirection.Name)]
public sealed class TokenizeCommandTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Prints_the_golden_ids_as_one_json_array(bool allowSpecial)
    {
        var entry = TestTokenizers.Golden.First(e => e.Text.Contains("<|endoftext|>", StringComparison.Ordinal) && e.Text.Length > 13);
        var expected = allowSpecial ? entry.IdsSpecialAllowed : entry.IdsSpecialAsText;
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, entry.Text);
            string[] args = ["tokenize", "--tokenizer", "gpt2:" + SharedData.Gpt2Vocabulary, "--text-file", file];
            var (code, stdout, stderr) = Run(allowSpecial ? [.. args, "--allow-special"] : args);
            Assert.True(code == 0, stderr);
            Assert.Equal("[" + string.Join(',', expected) + "]", stdout.Trim());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Missing_text_file_is_an_error()
    {
        var (code, stdout, stderr) = Run("tokenize", "--tokenizer", "byte", "--text-file", "/no/such/file.txt");
        Assert.NotEqual(0, code);
        Assert.Empty(stdout);
        Assert.Contains("/no/such/file.txt", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_spec_is_an_error_listing_the_accepted_forms()
    {
        var file = Path.GetTempFileName();
        try
        {
            var (code, stdout, stderr) = Run("tokenize", "--tokenizer", "wordpiece", "--text-file", file);
            Assert.NotEqual(0, code);
            Assert.Empty(stdout);
            Assert.Contains("gpt2:DIR", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Missing_required_option_is_an_error()
    {
        var (code, _, _) = Run("tokenize", "--tokenizer", "byte");
        Assert.NotEqual(0, code);
    }

    [Fact]
    public void Tiktoken_gpt2_prints_the_golden_ids_in_both_modes()
    {
        var entry = TestTokenizers.Golden.First(e => e.Text.Contains("<|endoftext|>", StringComparison.Ordinal) && e.Text.Length > 13);
        Assert.Equal("[" + string.Join(',', entry.IdsSpecialAllowed) + "]", Tokenize("tiktoken:gpt2", entry.Text, allowSpecial: true));
        Assert.Equal("[" + string.Join(',', entry.IdsSpecialAsText) + "]", Tokenize("tiktoken:gpt2", entry.Text, allowSpecial: false));
    }

    [Theory]
    [InlineData("byte", false)]
    [InlineData("byte", true)]
    [InlineData("char", false)]
    [InlineData("word", true)]
    [InlineData("tiktoken:cl100k_base", true)]
    [InlineData("tiktoken:cl100k_base", false)]
    [InlineData("bert", false)]
    [InlineData("bert", true)]
    [InlineData("sentencepiece", false)]
    public void Each_tokenizer_kind_prints_its_ids_as_one_json_array(string kind, bool allowSpecial)
    {
        const string text = "the cat sat on a mat. [MASK] <|endoftext|> the mat";
        var dir = Directory.CreateTempSubdirectory("esolm-tokenize-").FullName;
        try
        {
            var spec = kind switch
            {
                "bert" => "bert:" + Path.Combine(dir, "vocab.txt"),
                "sentencepiece" => "sentencepiece:" + Path.Combine(dir, "tiny.model"),
                _ => kind,
            };
            File.WriteAllLines(Path.Combine(dir, "vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "a", "mat", ".", "<", ">", "|", "end", "##of", "##text"]);
            File.WriteAllBytes(Path.Combine(dir, "tiny.model"), SentencePieceModels.Unigram(["▁the", "▁cat", "▁sat", "▁on", "▁a", "▁mat", "."]));

            // The library's own encoding of the same text with the same settings (char/word learn from the text itself).
            var tokenizer = kind switch
            {
                "char" => EsoLM.Text.CharTokenizer.FromCorpus(text, allowSpecialTokens: allowSpecial),
                "word" => EsoLM.Text.WordTokenizer.FromCorpus(text, allowSpecialTokens: allowSpecial),
                _ => EsoLM.Text.TokenizerFactory.FromSpec(spec, allowSpecial),
            };
            var expected = EsoLM.Text.TokenizerExtensions.Encode(tokenizer, text);
            Assert.NotEmpty(expected);
            Assert.Equal("[" + string.Join(',', expected) + "]", Tokenize(spec, text, allowSpecial));
            if (kind == "bert")
            {
                Assert.Equal(allowSpecial, expected.Contains(4));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Tokenize(string spec, string text, bool allowSpecial)
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, text);
            string[] args = ["tokenize", "--tokenizer", spec, "--text-file", file];
            var (code, stdout, stderr) = Run(allowSpecial ? [.. args, "--allow-special"] : args);
            Assert.True(code == 0, stderr);
            return stdout.Trim();
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static (int Code, string Stdout, string Stderr) Run(params string[] args) => CliRunner.Run(args);

}
