using EsoLM.ML;
using EsoLM.Data;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace EsoLM.Tests.ML;

/// <summary>A row of the ML.NET tests.</summary>
public sealed class TextRow
{
    public string Text { get; set; } = string.Empty;

    public string Prompt { get; set; } = string.Empty;

    public uint Seed { get; set; }

    public bool Label { get; set; }
}

/// <summary>What the tests read back.</summary>
public sealed class ScoredRow
{
    public string Text { get; set; } = string.Empty;

    public string GeneratedText { get; set; } = string.Empty;

    public float Nelbo { get; set; }

    public float Perplexity { get; set; }
}

/// <summary>One tiny Eso-LM trained once through the ML.NET estimator (hidden 32, 2 layers, L = 32, 40 steps).</summary>
internal static class MlFixtures
{
    private static readonly Lazy<EsoLmTextGenerationTransformer> TrainedModel = new(() =>
    {
        var ml = new MLContext(seed: 1);
        return ml.Transforms.Text.TrainEsoLm(TrainingOptions()).Fit(ml.Data.LoadFromEnumerable(Documents(5, 80)));
    });

    public static EsoLmTextGenerationTransformer Trained => TrainedModel.Value;

    public static EsoLmTrainingOptions TrainingOptions() => new()
    {
        ContextLength = 32,
        HiddenSize = 32,
        Heads = 4,
        Layers = 2,
        CondDim = 8,
        MlpRatio = 2,
        Steps = 40,
        BatchSize = 8,
        WarmupSteps = 4,
        LearningRate = 3e-3,
        Alpha0 = 0.5,
        Generation = GenerationOptions(),
    };

    public static EsoLmGenerationOptions GenerationOptions() => new() { PromptColumnName = "Prompt", SeedColumnName = "Seed", Steps = 4, MaxTokens = 12 };

    public static TextRow[] Documents(ulong seed, int count) =>
        [.. BuiltInLanguage.CreateGenerator(seed).Documents(count, 1).Select((t, i) => new TextRow { Text = t, Prompt = i % 2 == 0 ? string.Empty : "the ", Seed = (uint)(100 + i), Label = true })];

    /// <summary>Letters of the built-in alphabet in random order: the same characters, none of the grammar.</summary>
    public static TextRow[] Noise(ulong seed, int count, int length = 24)
    {
        var random = new Random((int)seed);
        var letters = BuiltInLanguage.Alphabet.Where(c => c != '\n').ToArray();
        return [.. Enumerable.Range(0, count).Select(i => new TextRow
        {
            Text = new string([.. Enumerable.Range(0, length).Select(_ => letters[random.Next(letters.Length)])]),
            Seed = (uint)(500 + i),
            Label = false,
        })];
    }

    /// <summary>The rows every round-trip check transforms (fixed, so that another process can rebuild them).</summary>
    public static TextRow[] CheckRows() => [.. Documents(9, 5).Concat(Noise(9, 3))];

    /// <summary>NormalizeText → Eso-LM scorer → Eso-LM generator → Concatenate, over the tiny model.</summary>
    public static IEstimator<ITransformer> MixedPipeline(MLContext ml) =>
        ml.Transforms.Text.NormalizeText("Norm", "Text", keepDiacritics: true, keepPunctuations: true, keepNumbers: true)
            .Append(ml.Transforms.Text.ScoreWithEsoLm(Trained.Model, new EsoLmScoringOptions { InputColumnName = "Norm", Samples = 4 }))
            .Append(ml.Transforms.Text.GenerateWithEsoLm(Trained.Model, GenerationOptions()))
            .Append(ml.Transforms.Concatenate("Features", "Nelbo", "Perplexity"));

    /// <summary>One line per row: generated text, NELBO and perplexity (round-trip format), the features.</summary>
    public static string[] Describe(MLContext ml, IDataView data) =>
        [.. ml.Data.CreateEnumerable<DescribedRow>(data, reuseRowObject: false).Select(r =>
            $"{r.GeneratedText}\t{r.Nelbo:R}\t{r.Perplexity:R}\t{string.Join(",", r.Features.Select(f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))}")];

    public sealed class DescribedRow
    {
        public string GeneratedText { get; set; } = string.Empty;

        public float Nelbo { get; set; }

        public float Perplexity { get; set; }

        [VectorType(2)]
        public float[] Features { get; set; } = [];
    }
}
