using EsoLM.Text;
using FsCheck.Xunit;

namespace EsoLM.Tests.Text;

public sealed class TokenizerPropertyTests
{
    private static readonly ByteTokenizer Bytes = new();

    [Property(Arbitrary = [typeof(TextArbitraries)], MaxTest = 300)]
    public void Gpt2_round_trips(TestText text) => AssertRoundTrip(TestTokenizers.Gpt2, text.Value);

    [Property(Arbitrary = [typeof(TextArbitraries)], MaxTest = 300)]
    public void Byte_round_trips(TestText text) => AssertRoundTrip(Bytes, text.Value);

    [Property(Arbitrary = [typeof(TextArbitraries)], MaxTest = 300)]
    public void Char_round_trips(TestText text) => AssertRoundTrip(CharTokenizer.FromCorpus(text.Value + "<|endoftext|>"), text.Value);

    [Property(Arbitrary = [typeof(TextArbitraries)], MaxTest = 200)]
    public void Gpt2_try_encode_agrees_with_encode(TestText text) => AssertTryEncodeAgrees(TestTokenizers.Gpt2, text.Value);

    [Property(Arbitrary = [typeof(TextArbitraries)], MaxTest = 200)]
    public void Byte_try_encode_agrees_with_encode(TestText text) => AssertTryEncodeAgrees(Bytes, text.Value);

    [Property(Arbitrary = [typeof(TextArbitraries)], MaxTest = 200)]
    public void Char_try_encode_agrees_with_encode(TestText text) =>
        AssertTryEncodeAgrees(CharTokenizer.FromCorpus(text.Value + "<|endoftext|>"), text.Value);

    [Property(Arbitrary = [typeof(TextArbitraries)], MaxTest = 300)]
    public void Gpt2_pieces_encode_independently(TestText text)
    {
        // Encoding is the concatenation of the pieces' encodings (the cache and the splitter agree).
        var expected = new List<int>();
        foreach (var piece in PreTokenizerTests.Split(text.Value))
        {
            expected.AddRange(TestTokenizers.Gpt2.Encode(piece));
        }

        Assert.Equal(expected, TestTokenizers.Gpt2.Encode(text.Value));
    }

    private static void AssertRoundTrip(ITokenizer tokenizer, string text)
    {
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text, allowSpecial: true)));
    }

    private static void AssertTryEncodeAgrees(ITokenizer tokenizer, string text)
    {
        foreach (var allowSpecial in new[] { false, true })
        {
            var ids = tokenizer.Encode(text, allowSpecial);
            var exact = new int[ids.Length];
            Assert.True(tokenizer.TryEncode(text, exact, out var written, allowSpecial));
            Assert.Equal(ids.Length, written);
            Assert.Equal(ids, exact);

            var roomy = new int[ids.Length + 5];
            Assert.True(tokenizer.TryEncode(text, roomy, out written, allowSpecial));
            Assert.Equal(ids, roomy[..written]);

            if (ids.Length > 0)
            {
                Assert.False(tokenizer.TryEncode(text, new int[ids.Length - 1], out written, allowSpecial));
                Assert.Equal(0, written);
            }
        }
    }
}
