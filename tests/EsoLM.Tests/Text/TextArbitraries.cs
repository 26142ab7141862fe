using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;

namespace EsoLM.Tests.Text;

/// <summary>A generated text: a concatenation of fragments (kept apart so that shrinking can drop them).</summary>
public sealed record TestText(string[] Fragments)
{
    public string Value { get; } = string.Concat(Fragments);

    public override string ToString() => JsonSerializer.Serialize(Value);
}

/// <summary>
/// FsCheck generators for tokenizer properties: words, digits, punctuation, whitespace runs (incl. Unicode spaces),
/// contractions, special-token text, non-ASCII letters, combining marks, emoji and other astral characters, arbitrary
/// scalar values — never a lone surrogate.
/// </summary>
public static class TextArbitraries
{
    private static readonly string[] Whitespace = [" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\u00A0", "\u3000", "\u2028", "\u0085", "\uFEFF", "\u2009", "\v", "\f"];

    private static readonly string[] Pieces =
    [
        "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'x", "<|endoftext|>", "<|", "|>", "endoftext",
        "é", "ß", "Æ", "日本語", "中文", "한국어", "Ωμέγα", "кириллица", "\u0301", "\u200D", "\u200B", "١٢٣", "½",
        "😀", "🚀", "✨", "👩\u200D👩\u200D👧", "𝔘𝔫𝔦", "𝟘𝟙𝟚", "𐐷", "𠀋", "\U0001F1FA\U0001F1F8", "\uFFFD", "\0",
    ];

    private static readonly Gen<string> Fragment = Gen.Frequency(
        (6, Word("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")),
        (3, Word("0123456789")),
        (3, Word("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")),
        (5, Gen.Elements(Whitespace)),
        (4, Gen.Elements(Pieces)),
        (2, ScalarValue(0x20, 0x7F)),
        (2, ScalarValue(0x80, 0xFFFF)),
        (2, ScalarValue(0x10000, 0x10FFFF)));

    /// <summary>Texts as described above.</summary>
    public static Arbitrary<TestText> Texts() => Arb.From(
        Fragment.ListOf().Select(list => new TestText([.. list])),
        text => Enumerable.Range(0, text.Fragments.Length)
            .Select(skip => new TestText([.. text.Fragments.Where((_, i) => i != skip)])));

    private static Gen<string> Word(string alphabet) =>
        Gen.Choose(1, 8).SelectMany(length => Gen.Elements(alphabet.ToCharArray()).ArrayOf(length)).Select(chars => new string(chars));

    private static Gen<string> ScalarValue(int low, int high) =>
        Gen.Choose(low, high)
            .Where(cp => cp is < 0xD800 or > 0xDFFF)
            .Select(cp => new Rune(cp).ToString());
}
