using System.Text.RegularExpressions;
using EsoLM.Text;
using FsCheck.Xunit;

namespace EsoLM.Tests.Text;

public sealed class PreTokenizerTests
{
    // The GPT-2 pattern with JavaScript's \s spelled out (js-tiktoken produced the golden file). On text without
    // surrogates .NET's UTF-16 regex sees the same code points as the scanner, so the two must agree exactly.
    private const string Space = @"\t\n\v\f\r\p{Zs}\u2028\u2029\uFEFF";

    private static readonly Regex Pattern = new(
        $"'(?:[sdmt]|ll|ve|re)| ?\\p{{L}}+| ?\\p{{N}}+| ?[^{Space}\\p{{L}}\\p{{N}}]+|[{Space}]+(?![^{Space}])|[{Space}]+",
        RegexOptions.CultureInvariant);

    public static List<string> Split(string text)
    {
        var pieces = new List<string>();
        for (var position = 0; position < text.Length;)
        {
            var length = Gpt2PreTokenizer.NextPieceLength(text, position);
            Assert.True(length > 0);
            pieces.Add(text.Substring(position, length));
            position += length;
        }

        return pieces;
    }

    [Theory]
    [InlineData("Hello world", new[] { "Hello", " world" })]
    [InlineData("I'm sure they'll", new[] { "I", "'m", " sure", " they", "'ll" })]
    [InlineData("   leading", new[] { "  ", " leading" })]
    [InlineData("trailing   ", new[] { "trailing", "   " })]
    [InlineData("a\n\nb", new[] { "a", "\n", "\n", "b" })]
    [InlineData("x \n y", new[] { "x", " \n", " y" })]
    [InlineData("!!!'s", new[] { "!!!'", "s" })]
    [InlineData(" 'x", new[] { " '", "x" })]
    [InlineData("3.14 -42", new[] { "3", ".", "14", " -", "42" })]
    [InlineData("𝔘𝔫𝔦 𝟘𝟙𝟚", new[] { "𝔘𝔫𝔦", " 𝟘𝟙𝟚" })] // astral letters and digits are \p{L} / \p{N}
    [InlineData("a😀🚀b", new[] { "a", "😀🚀", "b" })]
    [InlineData("a\u0085b", new[] { "a", "\u0085", "b" })] // NEL is not \s in JavaScript
    [InlineData("a\uFEFF\uFEFFb", new[] { "a", "\uFEFF", "\uFEFF", "b" })] // ... but U+FEFF is
    [InlineData("a\u00A0b", new[] { "a", "\u00A0", "b" })]
    public void Splits_like_the_gpt2_pattern(string text, string[] expected) => Assert.Equal(expected, Split(text));

    [Fact]
    public void A_lone_surrogate_is_one_other_piece()
    {
        Assert.Equal(["a", "\uD800", "b"], Split("a\uD800b"));
        Assert.Equal(["!\uDC00", " x"], Split("!\uDC00 x"));
    }

    [Property(Arbitrary = [typeof(TextArbitraries)], MaxTest = 500)]
    public void Scanner_agrees_with_the_regex_on_text_without_surrogates(TestText text)
    {
        var bmp = new string([.. text.Value.Where(c => !char.IsSurrogate(c))]);
        Assert.Equal(Pattern.Matches(bmp).Select(m => m.Value), Split(bmp));
    }

    [Property(Arbitrary = [typeof(TextArbitraries)], MaxTest = 300)]
    public void Pieces_cover_the_text_and_never_split_a_surrogate_pair(TestText text)
    {
        var pieces = Split(text.Value);
        Assert.Equal(text.Value, string.Concat(pieces));
        Assert.DoesNotContain(pieces, p => char.IsHighSurrogate(p[^1]) || char.IsLowSurrogate(p[0]));
    }
}
