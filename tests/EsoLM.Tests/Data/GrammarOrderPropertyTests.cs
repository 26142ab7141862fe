using EsoLM.Data;
using FsCheck.Xunit;
using Xunit.Abstractions;

namespace EsoLM.Tests.Data;

/// <summary>Word order matters: permuting the words of a grammatical sentence almost always breaks it.</summary>
public sealed class GrammarOrderPropertyTests(ITestOutputHelper output)
{
    private static readonly GrammarRecognizer Recognizer = BuiltInLanguage.Recognizer;

    private static string[] Words(string sentence)
    {
        var words = sentence.TrimEnd('.').Split(' ');
        words[0] = words[0].ToLowerInvariant();
        return words;
    }

    [Property(MaxTest = 300)]
    public bool Any_seed_generates_valid_documents(ulong seed) =>
        Recognizer.IsValidText(BuiltInLanguage.CreateGenerator(seed).NextDocument(3));

    [Fact]
    public void Swapping_two_different_adjacent_words_usually_breaks_a_sentence()
    {
        var generator = BuiltInLanguage.CreateGenerator(77);
        var random = new Random(1234);
        int trials = 0, invalid = 0;
        var stillValid = new List<string>();
        while (trials < 5000)
        {
            var words = Words(generator.NextSentence());
            int i = random.Next(words.Length - 1);
            if (words[i] == words[i + 1])
            {
                continue;
            }

            (words[i], words[i + 1]) = (words[i + 1], words[i]);
            string swapped = GrammarGenerator.Format(words);
            trials++;
            if (Recognizer.IsValidSentence(swapped))
            {
                stillValid.Add(swapped);
            }
            else
            {
                invalid++;
            }
        }

        double rate = (double)invalid / trials;
        output.WriteLine($"adjacent swap: {rate:P2} invalid over {trials} trials; still valid e.g.: {string.Join(" | ", stillValid.Take(5))}");
        Assert.True(rate > 0.9, $"only {rate:P2} of adjacent swaps were invalid");
    }

    [Fact]
    public void Shuffled_sentences_are_almost_never_valid()
    {
        var generator = BuiltInLanguage.CreateGenerator(78);
        var random = new Random(4321);
        int trials = 0, valid = 0;
        while (trials < 5000)
        {
            var original = Words(generator.NextSentence());
            if (original.Length < 5)
            {
                continue;
            }

            var words = (string[])original.Clone();
            do
            {
                random.Shuffle(words);
            }
            while (words.SequenceEqual(original));

            trials++;
            if (Recognizer.IsValidSentence(GrammarGenerator.Format(words)))
            {
                valid++;
            }
        }

        double rate = (double)valid / trials;
        output.WriteLine($"shuffle: {rate:P2} valid over {trials} trials");
        Assert.True(rate < 0.02, $"{rate:P2} of shuffled sentences were valid");
    }

    [Fact]
    public void Reversed_sentences_are_never_valid()
    {
        var generator = BuiltInLanguage.CreateGenerator(79);
        for (int i = 0; i < 2000; i++)
        {
            var words = Words(generator.NextSentence());
            Array.Reverse(words);
            Assert.False(Recognizer.IsValidSentence(GrammarGenerator.Format(words)));
        }
    }
}
