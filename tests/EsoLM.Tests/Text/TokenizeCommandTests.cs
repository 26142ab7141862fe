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

    private static (int Code, string Stdout, string Stderr) Run(params string[] args) => CliRunner.Run(args);

}
