// QuickStart: train a tiny Eso-LM on the built-in language for a few steps, generate, check determinism.
using EsoLM.Hosting;
using EsoLM.Pipeline;
using EsoLM.Data;
using EsoLM.Training;

#region quickstart
var estimator = new EsoLmEstimator(new EsoLmEstimatorOptions
{
    ContextLength = 32,
    HiddenSize = 32,
    Layers = 2,
    Trainer = new TrainerOptions { Steps = 20, BatchSize = 8, WarmupSteps = 2, LearningRate = 3e-3 },
    Generation = new EsoLmOptions { Steps = 8, MaxNewTokens = 24 },
});
var documents = BuiltInLanguage.CreateGenerator(seed: 1).Documents(200, 2);
EsoLmTransformer model = estimator.Fit(documents, new Progress<TrainingProgress>(p => Console.Write($"\rstep {p.Step}/{p.TotalSteps} loss {p.Loss:F3}")));
Console.WriteLine();

GenerationResult result = model.Transform([new GenerationRequest("the ") { Seed = 42 }]).Single();
Console.WriteLine($"the {result.Completion}  ({result.FinishReason}, {result.ForwardPasses} forward passes)");
#endregion

var again = model.Transform([new GenerationRequest("the ") { Seed = 42 }]).Single();
if (again.Completion != result.Completion || result.TokenIds.Count == 0)
{
    Console.Error.WriteLine("FAIL: generation is not deterministic for a fixed seed, or produced nothing.");
    return 1;
}

#region validity
// The built-in language comes with its recognizer: how many of the generated sentences are grammatical.
var texts = model.Transform(Enumerable.Range(0, 8).Select(i => new GenerationRequest("the ") { Seed = (ulong)i }))
    .Select(r => "the " + r.Completion)
    .ToList();
RecognitionResult firstText = BuiltInLanguage.Recognizer.Analyze(texts[0]);
Console.WriteLine($"validity {BuiltInLanguage.Recognizer.ValidityRate(texts):P0} over 8 samples; " +
    $"first sample: {firstText.ValidSentences} of {firstText.TotalSentences} sentences valid");
#endregion

if (!BuiltInLanguage.Recognizer.IsValidText(documents.First()))
{
    Console.Error.WriteLine("FAIL: the recognizer rejects a document of the built-in language's own generator.");
    return 1;
}

Console.WriteLine("QuickStart OK");
return 0;
