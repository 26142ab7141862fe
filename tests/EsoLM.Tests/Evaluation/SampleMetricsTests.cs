using EsoLM.Evaluation;
using EsoLM.Modeling;
using EsoLM.Text;

namespace EsoLM.Tests.Evaluation;

public sealed class SampleMetricsTests
{
    private static readonly CharTokenizer Tok = TinyModels.Tokenizer;

    private static int Eos => Tok.EndOfTextId!.Value;

    [Theory]
    [InlineData(new[] { 1, 1, 2, 2 }, 0.69314718055994531)] // ln 2
    [InlineData(new[] { 3, 3, 3 }, 0.0)]
    [InlineData(new[] { 1, 1, 1, 2 }, 0.56233514461880829)] // −(¾ ln ¾ + ¼ ln ¼)
    [InlineData(new[] { 4, 5, 6, 7 }, 1.3862943611198906)] // ln 4
    [InlineData(new int[0], 0.0)]
    public void Unigram_entropy_matches_hand_computed_values(int[] tokens, double expected) =>
        Assert.Equal(expected, SampleMetrics.UnigramEntropy(tokens), 1e-12);

    [Fact]
    public void Mean_entropy_averages_over_samples()
    {
        IReadOnlyList<int>[] samples = [new[] { 1, 1, 2, 2 }, new[] { 3, 3, 3 }, new List<int> { 1, 1, 1, 2 }];
        Assert.Equal((0.69314718055994531 + 0 + 0.56233514461880829) / 3, SampleMetrics.MeanUnigramEntropy(samples), 1e-12);
        Assert.Throws<ArgumentOutOfRangeException>(() => SampleMetrics.MeanUnigramEntropy([]));
    }

    [Fact]
    public void Validity_matches_hand_computed_values()
    {
        // Sample 1 starts mid-sentence: "ats sleep." is dropped; then one valid and one invalid sentence; "A dog" is an
        // unfinished trailing fragment (ignored). Sample 2: three documents (EOS-separated); the first starts with a
        // capital, so it is kept whole; "cat the runs." is invalid.
        var s1 = Tok.Encode("ats sleep. The cat sleeps. The cats sleeps. A dog");
        var s2 = Tok.Encode("The cats sleep.").Append(Eos).Concat(Tok.Encode("A dog chases the cats.")).Append(Eos).Concat(Tok.Encode("cat the runs.")).ToArray();
        Assert.Equal([" The cat sleeps. The cats sleeps. A dog"], SampleMetrics.ValidityTexts(s1, Tok));
        Assert.Equal(["The cats sleep.", "A dog chases the cats.", "cat the runs."], SampleMetrics.ValidityTexts(s2, Tok));

        var one = SampleMetrics.Validity([s1], Tok);
        Assert.Equal((2, 1), (one.TotalSentences, one.ValidSentences));
        Assert.Equal(0.5, one.ValidityRate);
        var both = SampleMetrics.Validity([s1, s2], Tok);
        Assert.Equal((5, 3), (both.TotalSentences, both.ValidSentences));
        Assert.Equal(0.6, both.ValidityRate, 1e-12);
        Assert.True(both.HasTrailingFragment);

        // Nothing countable: 0.
        Assert.Equal(0, SampleMetrics.Validity([Tok.Encode("ats sleep")], Tok).ValidityRate);
    }

    [Fact]
    public void Real_text_of_the_language_is_valid()
    {
        var docs = EsoLM.Data.BuiltInLanguage.CreateGenerator(42).Documents(20, 3);
        var ids = docs.SelectMany(d => Tok.Encode(d).Append(Eos)).ToArray();
        var windows = Enumerable.Range(0, ids.Length / 64).Select(i => (IReadOnlyList<int>)ids.AsSpan(i * 64, 64).ToArray()).ToList();
        Assert.Equal(1.0, SampleMetrics.Validity(windows, Tok).ValidityRate);
    }

    [Fact]
    public void Unigram_perplexity_matches_hand_computed_value()
    {
        // counts (2, 1, 0) + 1 over 3 + 3: p = (1/2, 1/3, 1/6); PPL of [0, 1, 2] = (1/2 · 1/3 · 1/6)^(−1/3) = 36^(1/3).
        Assert.Equal(Math.Cbrt(36), SampleMetrics.UnigramPerplexity([0, 0, 1], [0, 1, 2], 3), 1e-12);
        Assert.Throws<ArgumentOutOfRangeException>(() => SampleMetrics.UnigramPerplexity([0, 5], [0], 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => SampleMetrics.UnigramPerplexity([0], [], 3));
    }
}

public sealed class GenerativePerplexityTests
{
    private static readonly CharTokenizer Tok = TinyModels.Tokenizer;

    private static GenerativePerplexityScorer Scorer() => new(TinyModels.Ema(TinyModels.HalfAlpha.Trainer), Tok) { BatchSize = 3 };

    [Fact]
    public void Counts_non_eos_tokens_plus_the_first_eos()
    {
        int eos = Tok.EndOfTextId!.Value, l = TinyModels.Length;
        var scorer = Scorer();
        IReadOnlyList<int>[] samples =
        [
            [1, 2, eos, 3, eos],                      // 3 non-EOS + first EOS (padding EOS not counted) = 4
            Enumerable.Range(0, l).Select(i => 1 + (i % 5)).ToArray(), // full row, no EOS = L
            Enumerable.Range(0, l + 4).Select(i => 2 + (i % 3)).ToArray(), // truncated to L
            [4, 5],                                   // 2 + the first padding EOS = 3
        ];
        var r = scorer.ScoreScorerIds(samples);
        Assert.Equal(4 + l + l + 3, r.Tokens);
        Assert.False(r.Retokenized);
        Assert.True(r.Perplexity > 1);
    }

    [Fact]
    public void Equals_the_exact_left_to_right_likelihood()
    {
        var (trainer, data) = TinyModels.HalfAlpha;
        int l = TinyModels.Length;
        var rows = TinyModels.TrainRows(data, 4).Select(r => r.ToArray()).Where(r => !r.Contains(Tok.EndOfTextId!.Value)).Take(2).ToArray();
        Assert.NotEmpty(rows);
        var model = TinyModels.Ema(trainer);
        var ll = new double[rows.Length];
        ExactLikelihoodEvaluator.OrderLogLikelihoods(new TrainingGraph(model), EsoLM.Masks.EsoLmVariant.B, rows.SelectMany(r => r).ToArray(), rows.Length, l,
            new DecodingOrder([.. Enumerable.Range(0, l)], 0), ll);
        var r = new GenerativePerplexityScorer(model, Tok).Score(rows.Select(x => (IReadOnlyList<int>)x).ToList(), Tok);
        Assert.Equal(-ll.Sum() / (rows.Length * l), r.NllPerToken, 1e-6);
    }

    [Fact]
    public void Other_tokenizers_are_retokenized_through_text()
    {
        var bytes = TokenizerFactory.FromSpec("byte");
        var scorer = Scorer();
        var sample = bytes.Encode("The cat sleeps.").Append(TokenizerVocabulary.Of(bytes).EndOfTextId!.Value).Concat(bytes.Encode("A dog")).ToArray();
        var expected = Tok.Encode("The cat sleeps.").Append(Tok.EndOfTextId!.Value).Concat(Tok.Encode("A dog")).ToArray();
        Assert.Equal(expected, scorer.ToScorerIds(sample, bytes));
        var r = scorer.Score([sample], bytes);
        Assert.True(r.Retokenized);
        Assert.Equal(scorer.ScoreScorerIds([expected]).NllPerToken, r.NllPerToken, 1e-12);
        Assert.False(scorer.Score([expected], TokenizerFactory.FromDescription(Tok.Describe())).Retokenized);
    }

    [Fact]
    public void A_tokenizer_that_does_not_fit_the_scorer_is_refused()
    {
        var model = TinyModels.Ema(TinyModels.HalfAlpha.Trainer);
        var e = Assert.Throws<ArgumentException>(() => new GenerativePerplexityScorer(model, TokenizerFactory.FromSpec("byte")));
        Assert.Contains("vocabulary", e.Message, StringComparison.Ordinal);
        var scorer = Scorer();
        Assert.Throws<ArgumentOutOfRangeException>(() => scorer.ScoreScorerIds([[model.Config.MaskTokenId]]));
    }
}

public sealed class NelboEvaluatorTests
{
    [Fact]
    public void Reports_progress_and_refuses_rows_of_the_wrong_length()
    {
        var (trainer, data) = TinyModels.HalfAlpha;
        var model = TinyModels.Ema(trainer);
        var rows = TinyModels.ValidationRows(data);
        var reports = new List<EvaluationProgress>();
        NelboEvaluator.Evaluate(model, trainer.ObjectiveOptions, rows.Length, TinyModels.Length, i => rows[i], 4, 1, new SyncProgress(reports.Add));
        Assert.Equal((rows.Length + 3) / 4, reports.Count);
        Assert.Equal(reports.Count, reports[^1].Done);
        Assert.Throws<ArgumentException>(() => NelboEvaluator.Evaluate(model, trainer.ObjectiveOptions, 1, TinyModels.Length, _ => new int[3]));
    }

    private sealed class SyncProgress(Action<EvaluationProgress> report) : IProgress<EvaluationProgress>
    {
        public void Report(EvaluationProgress value) => report(value);
    }
}
