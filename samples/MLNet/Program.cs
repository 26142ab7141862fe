// MLNet: an ordinary ML.NET task with an Eso-LM inside. Tell well-formed sentences of the built-in language from the
// same words in random order. A bag of words cannot see word order; an Eso-LM trained on well-formed sentences only
// can: its perplexity becomes one more feature of an ML.NET classifier. The sample reports the test metrics without
// and with that feature, saves the whole pipeline to one zip, reloads it and checks the predictions are identical.
using EsoLM.ML;
using EsoLM.Data;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Text;

var ml = new MLContext(seed: 1);
var generator = BuiltInLanguage.CreateGenerator(seed: 7);
var shuffle = new Random(7);
Sentence[] MakeSet(int count) => [.. generator.Documents(count, 1).SelectMany(text => new[]
{
    new Sentence { Text = text, Label = true },
    new Sentence { Text = string.Join(' ', text.Split(' ').OrderBy(_ => shuffle.Next())), Label = false },
})];
Sentence[] trainRows = MakeSet(200), testRows = MakeSet(100);
IDataView train = ml.Data.LoadFromEnumerable(trainRows), test = ml.Data.LoadFromEnumerable(testRows);

#region train-lm
// 1. Train an Eso-LM on one class only: the well-formed sentences.
IDataView wellFormed = ml.Data.FilterByCustomPredicate<Sentence>(train, s => !s.Label);
EsoLmTextGenerationTransformer lm = ml.Transforms.Text.TrainEsoLm(new EsoLmTrainingOptions
{
    InputColumnName = "Text",
    ContextLength = 64, HiddenSize = 48, Heads = 4, Layers = 2, CondDim = 16,
    Alpha0 = 0.5, Steps = 150, BatchSize = 16,
    Progress = new Progress<EsoLM.Training.TrainingProgress>(p =>
    {
        if (p.Step % 50 == 0)
        {
            Console.WriteLine($"Eso-LM step {p.Step}/{p.TotalSteps}, loss {p.Loss:F3}");
        }
    }),
}).Fit(wellFormed);
#endregion

#region classify
// 2. The same bag-of-words classifier without and with the Eso-LM's per-row NELBO (nats/token) as a feature.
var bagOfWords = new TextFeaturizingEstimator.Options
{
    WordFeatureExtractor = new WordBagEstimator.Options { NgramLength = 1 },
    CharFeatureExtractor = null,
};
var withoutLm = ml.Transforms.Text.FeaturizeText("Features", bagOfWords, "Text")
    .Append(ml.BinaryClassification.Trainers.SdcaLogisticRegression());
var withLm = ml.Transforms.Text.FeaturizeText("Words", bagOfWords, "Text")
    .Append(ml.Transforms.Text.ScoreWithEsoLm(lm.Model, new EsoLmScoringOptions { InputColumnName = "Text" }))
    .Append(ml.Transforms.Concatenate("Features", "Words", "Nelbo"))
    .Append(ml.Transforms.NormalizeMinMax("Features"))
    .AppendCacheCheckpoint(ml)   // the trainer reads the data many times; score each row once
    .Append(ml.BinaryClassification.Trainers.SdcaLogisticRegression());

var baseline = ml.BinaryClassification.Evaluate(withoutLm.Fit(train).Transform(test));
var model = withLm.Fit(train);
var improved = ml.BinaryClassification.Evaluate(model.Transform(test));
Console.WriteLine($"without the Eso-LM feature: accuracy {baseline.Accuracy:P1}, AUC {baseline.AreaUnderRocCurve:F3}");
Console.WriteLine($"with the Eso-LM feature:    accuracy {improved.Accuracy:P1}, AUC {improved.AreaUnderRocCurve:F3}");
#endregion

#region save-load
// 3. One zip holds the whole pipeline, Eso-LM weights included; loading it takes one call from EsoLM.ML.
ml.Model.Save(model, train.Schema, "sentence-classifier.zip");
ITransformer reloaded = ml.Model.LoadWithEsoLm("sentence-classifier.zip", out DataViewSchema inputSchema);
var engine = ml.Model.CreatePredictionEngine<Sentence, Prediction>(reloaded);
foreach (var sentence in testRows.Take(2))
{
    Prediction p = engine.Predict(new Sentence { Text = sentence.Text });
    Console.WriteLine($"\"{sentence.Text}\" -> well-formed: {p.PredictedLabel} (probability {p.Probability:F3})");
}
#endregion

var before = ml.Data.CreateEnumerable<Prediction>(model.Transform(test), reuseRowObject: false).Select(r => r.Probability).ToArray();
var after = ml.Data.CreateEnumerable<Prediction>(reloaded.Transform(test), reuseRowObject: false).Select(r => r.Probability).ToArray();
File.Delete("sentence-classifier.zip");
if (!before.SequenceEqual(after))
{
    Console.Error.WriteLine("FAIL: the reloaded pipeline predicts differently.");
    return 1;
}

if (!(improved.AreaUnderRocCurve > baseline.AreaUnderRocCurve))
{
    Console.Error.WriteLine("FAIL: the Eso-LM feature did not improve the classifier.");
    return 1;
}

Console.WriteLine("MLNet OK");
return 0;

/// <summary>A sentence and whether it is well formed.</summary>
public sealed class Sentence
{
    /// <summary>The text.</summary>
    public string Text { get; set; } = string.Empty;

    /// <summary>True for a well-formed sentence.</summary>
    public bool Label { get; set; }
}

/// <summary>The classifier's output.</summary>
public sealed class Prediction
{
    /// <summary>Predicted well-formedness.</summary>
    public bool PredictedLabel { get; set; }

    /// <summary>Probability of being well formed.</summary>
    public float Probability { get; set; }
}
