using EsoLM.Text;
using FsCheck.Xunit;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Tests.Text;

public sealed class TokenizerPropertyTests
{
    private static readonly ByteTokenizer Bytes = new();
    private static readonly ByteTokenizer BytesSpecial = new(allowSpecialTokens: true);

    [Property(Arbitrary = [typeof(TextArbitraries)], MaxTest = 300)]
    public void Gpt2_round_trips(TestText text)
    {
        AssertRoundTrip(TestTokenizers.Gpt2, text.Value);
        AssertRoundTrip(TestTokenizers.Gpt2Special, text.Value);
    }

    [Property(Arbitrary = [typeof(TextArbitraries)], MaxTest = 300)]
    public void Byte_round_trips(TestText text)
    {
        AssertRoundTrip(Bytes, text.Value);
        AssertRoundTrip(BytesSpecial, text.Value);
    }

    [Property(Arbitrary = [typeof(TextArbitraries)], MaxTest = 300)]
    public void Char_round_trips(TestText text)
    {
        AssertRoundTrip(CharTokenizer.FromCorpus(text.Value + "<|endoftext|>"), text.Value);
        AssertRoundTrip(CharTokenizer.FromCorpus(text.Value + "<|endoftext|>", allowSpecialTokens: true), text.Value);
    }

    [Property(Arbitrary = [typeof(TextArbitraries)], MaxTest = 300)]
    public void Word_round_trips(TestText text)
    {
        AssertRoundTrip(WordTokenizer.FromCorpus(text.Value), text.Value);
        AssertRoundTrip(WordTokenizer.FromCorpus(text.Value, allowSpecialTokens: true), text.Value);
    }

    [Property(Arbitrary = [typeof(TextArbitraries)], MaxTest = 200)]
    public void Own_tokenizers_agree_with_the_tokenizer_base_api(TestText text)
    {
        foreach (EsoLmTokenizer tokenizer in new EsoLmTokenizer[] { Bytes, BytesSpecial, CharTokenizer.FromCorpus(text.Value + "<|endoftext|>", allowSpecialTokens: true) })
        {
            var ids = tokenizer.Encode(text.Value);
            Tokenizer general = tokenizer;
            Assert.Equal(ids, general.EncodeToIds(text.Value));
            Assert.Equal(ids, general.EncodeToTokens(text.Value, out _).Select(t => t.Id));
            Assert.Equal(ids.Length, general.CountTokens(text.Value));

            // A token budget keeps a prefix of the ids, cut at a character boundary, and reports the characters consumed.
            for (var budget = 0; budget <= ids.Length; budget += Math.Max(1, ids.Length / 4))
            {
                var prefix = general.EncodeToIds(text.Value, budget, out _, out var consumed);
                Assert.True(prefix.Count <= budget);
                Assert.Equal(ids.Take(prefix.Count), prefix);
                Assert.Equal(prefix, tokenizer.Encode(text.Value[..consumed]));
            }

            var destination = new char[text.Value.Length / 2];
            var status = general.Decode(ids, destination, out var idsConsumed, out var written);
            Assert.Equal(tokenizer.Decode(ids.Take(idsConsumed)), new string(destination, 0, written));
            Assert.Equal(idsConsumed == ids.Length ? System.Buffers.OperationStatus.Done : System.Buffers.OperationStatus.DestinationTooSmall, status);
        }
    }

    private static void AssertRoundTrip(Tokenizer tokenizer, string text) =>
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
}
