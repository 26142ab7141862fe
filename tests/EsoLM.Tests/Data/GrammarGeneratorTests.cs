using System.Diagnostics;
using EsoLM.Data;
using Xunit.Abstractions;

namespace EsoLM.Tests.Data;

public sealed class GrammarGeneratorTests(ITestOutputHelper output)
{
    [Fact]
    public void Five_thousand_generated_sentences_over_many_seeds_are_all_valid()
    {
        var recognizer = BuiltInLanguage.Recognizer;
        int checkedSentences = 0;
        for (ulong seed = 0; seed < 50; seed++)
        {
            var generator = BuiltInLanguage.CreateGenerator(seed * 0x1234_5678_9ABCUL + 3);
            for (int i = 0; i < 100; i++)
            {
                string s = generator.NextSentence();
                Assert.True(recognizer.IsValidSentence(s), $"seed {seed}: {s}");
                checkedSentences++;
            }
        }

        Assert.Equal(5000, checkedSentences);
    }

    [Theory]
    [InlineData(0, 1, 1, 0)]
    [InlineData(1, 1, 2, 1)]
    [InlineData(3, 3, 3, 2)]
    [InlineData(4, 4, 4, 4)]
    public void Generated_sentences_are_valid_under_the_same_bounds(int depth, int clauses, int adjectives, int seed)
    {
        var options = new GrammarOptions
        {
            MaxDepth = depth,
            MaxClauses = clauses,
            MaxAdjectives = adjectives,
            MaxWords = GrammarOptions.WordLimit,
            PrepositionalPhraseProbability = 0.4,
            RelativeClauseProbability = 0.4,
            CoordinationProbability = 0.6,
            AdjectiveProbability = 0.6,
        };
        var recognizer = new GrammarRecognizer(options);
        var generator = new GrammarGenerator((ulong)seed, options);
        int outsideDefault = 0;
        for (int i = 0; i < 1000; i++)
        {
            string s = generator.NextSentence();
            Assert.True(recognizer.IsValidSentence(s), s);
            if (!BuiltInLanguage.Recognizer.IsValidSentence(s))
            {
                outsideDefault++;
            }
        }

        // With wider bounds than the defaults, the default recognizer must reject some of them (it enforces the bounds).
        if (depth > 2 || clauses > 2 || adjectives > 2)
        {
            Assert.True(outsideDefault > 0);
        }
    }

    [Fact]
    public void Equal_seeds_give_equal_text_and_different_seeds_differ()
    {
        string a = BuiltInLanguage.CreateGenerator(42).NextDocument(20);
        string b = BuiltInLanguage.CreateGenerator(42).NextDocument(20);
        Assert.Equal(a, b);
        Assert.NotEqual(a, BuiltInLanguage.CreateGenerator(43).NextDocument(20));

        var texts = new HashSet<string>();
        for (ulong seed = 0; seed < 100; seed++)
        {
            texts.Add(BuiltInLanguage.CreateGenerator(seed).NextDocument(5));
        }

        Assert.Equal(100, texts.Count);
        Assert.Equal(BuiltInLanguage.Corpus(9, 4, 3), BuiltInLanguage.Corpus(9, 4, 3));
    }

    [Fact]
    public void Documents_are_sentences_separated_by_single_spaces()
    {
        var generator = BuiltInLanguage.CreateGenerator(5);
        var docs = generator.Documents(20, 4).ToList();
        Assert.Equal(20, docs.Count);
        foreach (var doc in docs)
        {
            Assert.True(BuiltInLanguage.Recognizer.IsValidText(doc), doc);
            Assert.Equal(4, BuiltInLanguage.Recognizer.Analyze(doc).TotalSentences);
            Assert.EndsWith(".", doc, StringComparison.Ordinal);
            Assert.DoesNotContain("  ", doc, StringComparison.Ordinal);
            Assert.Equal(3, doc.Split(". ").Length - 1);
            Assert.True(char.IsUpper(doc[0]));
        }

        // Documents continues the same stream as NextDocument.
        var again = BuiltInLanguage.CreateGenerator(5);
        Assert.Equal(docs[0], again.NextDocument(4));
        Assert.Equal(docs[1], again.NextDocument(4));
    }

    [Fact]
    public void Corpus_is_valid_text_over_the_alphabet()
    {
        string corpus = BuiltInLanguage.Corpus(7, 2000, 5);
        var lines = corpus.Split(BuiltInLanguage.DocumentSeparator);
        Assert.Equal(2000, lines.Length);
        Assert.True(BuiltInLanguage.Recognizer.IsValidText(corpus));
        Assert.All(lines, line => Assert.True(BuiltInLanguage.Recognizer.IsValidText(line), line));

        var alphabet = BuiltInLanguage.Alphabet;
        Assert.Equal(alphabet.Order().ToArray(), alphabet.ToArray());
        Assert.Equal(alphabet.Count, alphabet.Distinct().Count());
        var used = corpus.ToHashSet();
        Assert.Subset(alphabet.ToHashSet(), used); // every character of the corpus is in the alphabet ...
        Assert.Superset(alphabet.ToHashSet(), used); // ... and every alphabet character occurs
        Assert.Equal(string.Empty, BuiltInLanguage.Corpus(7, 0, 5));
        output.WriteLine($"alphabet ({alphabet.Count}): \"{new string([.. alphabet]).Replace("\n", "\\n", StringComparison.Ordinal)}\"");
    }

    [Fact]
    public void Statistics_are_within_bounds()
    {
        var recognizer = BuiltInLanguage.Recognizer;
        var generator = BuiltInLanguage.CreateGenerator(11);
        var sentences = Enumerable.Range(0, 10_000).Select(_ => generator.NextSentence()).ToList();
        var lengths = sentences.Select(s => s.Split(' ').Length).ToList();
        var types = sentences.SelectMany(s => s.TrimEnd('.').ToLowerInvariant().Split(' ')).ToHashSet();
        double average = lengths.Average();

        var sw = Stopwatch.StartNew();
        int valid = sentences.Count(recognizer.IsValidSentence);
        sw.Stop();

        output.WriteLine($"average sentence length: {average:F2} words (min {lengths.Min()}, max {lengths.Max()})");
        output.WriteLine($"length histogram: {string.Join(", ", lengths.GroupBy(l => l).OrderBy(g => g.Key).Select(g => $"{g.Key}:{g.Count()}"))}");
        output.WriteLine($"lexicon: {BuiltInLanguage.Words.Count} word forms, {types.Count} used in 10,000 sentences; alphabet {BuiltInLanguage.Alphabet.Count} characters");
        output.WriteLine($"recognised 10,000 sentences in {sw.ElapsedMilliseconds} ms");
        foreach (var s in sentences.Take(12))
        {
            output.WriteLine(s);
        }

        Assert.Equal(sentences.Count, valid);
        Assert.InRange(average, 6, 14);
        Assert.InRange(lengths.Min(), 3, 3);
        Assert.InRange(lengths.Max(), 15, 20);
        Assert.InRange(BuiltInLanguage.Words.Count, 150, 400);
        Assert.True(types.Count > 0.95 * BuiltInLanguage.Words.Count, $"{types.Count} of {BuiltInLanguage.Words.Count} forms used");
        Assert.InRange(BuiltInLanguage.Alphabet.Count, 20, 40);
    }

    [Fact]
    public void Lexicon_has_the_promised_sizes_and_one_category_per_form()
    {
        Assert.InRange(Lexicon.SingularNouns.Length, 40, 80);
        Assert.Equal(Lexicon.SingularNouns.Length, Lexicon.PluralNouns.Length);
        Assert.InRange(Lexicon.SingularIntransitive.Length + Lexicon.SingularTransitive.Length, 30, 50);
        Assert.All(Lexicon.Words, kv => Assert.Equal(kv.Key, kv.Key.ToLowerInvariant()));
        Assert.All(Lexicon.Words, kv => Assert.Matches("^[a-z]+$", kv.Key));
        Assert.Equal(Lexicon.Words.Count, BuiltInLanguage.Words.Count);
        Assert.Equal("builtin:grammar", BuiltInLanguage.Name);
    }

    [Fact]
    public void Options_validate_their_values()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new GrammarOptions { MaxDepth = -1 });
        Assert.Equal(nameof(GrammarOptions.MaxDepth), e.ParamName);
        Assert.Equal(-1, e.ActualValue);
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrammarOptions { MaxDepth = GrammarOptions.DepthLimit + 1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrammarOptions { MaxClauses = 0 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrammarOptions { MaxAdjectives = 5 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrammarOptions { MaxWords = 2 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrammarOptions { MaxWords = 61 });
        e = Assert.Throws<ArgumentOutOfRangeException>(() => new GrammarOptions { AdverbProbability = 1.5 });
        Assert.Equal(nameof(GrammarOptions.AdverbProbability), e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrammarOptions { PluralProbability = double.NaN });
        Assert.Throws<ArgumentOutOfRangeException>(() => new GrammarOptions { CoordinationProbability = -0.1 });
        Assert.Equal(GrammarOptions.Default, new GrammarOptions());
        Assert.Equal(2, GrammarOptions.Default.MaxDepth);
        Assert.Equal(20, GrammarOptions.Default.MaxWords);
    }

    [Fact]
    public void Generator_arguments_are_checked()
    {
        var g = BuiltInLanguage.CreateGenerator(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => g.NextDocument(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => g.Documents(-1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => g.Documents(1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => BuiltInLanguage.Corpus(1, -1, 1));
        Assert.Same(GrammarOptions.Default, g.Options);
        Assert.Equal(1UL, g.Seed);

        // Two adjectives are forced, so no sentence fits in 3 words.
        var impossible = new GrammarOptions { MaxWords = 3, AdjectiveProbability = 1 };
        Assert.Throws<InvalidOperationException>(() => new GrammarGenerator(1, impossible).NextSentence());
    }
}
