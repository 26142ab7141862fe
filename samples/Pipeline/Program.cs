// Pipeline: estimator -> transformer, lazy Transform, save/load round trip.
using EsoLM.Hosting;
using EsoLM.Pipeline;
using EsoLM.Text.Grammar;
using EsoLM.Training;

#region pipeline
var estimator = new EsoLmEstimator(new EsoLmEstimatorOptions
{
    ContextLength = 32, HiddenSize = 32, Layers = 2,
    Trainer = new TrainerOptions { Steps = 10, BatchSize = 8, WarmupSteps = 2, LearningRate = 3e-3 },
    Generation = new EsoLmOptions { Steps = 8, MaxNewTokens = 16 },
});
EsoSchema output = estimator.GetOutputSchema(EsoSchema.GenerationInput);   // checked before any training
EsoLmTransformer transformer = estimator.Fit(BuiltInLanguage.CreateGenerator(2).Documents(100, 2));

var rows = Enumerable.Range(0, 3).Select(i => new GenerationRequest("a ") { Seed = (ulong)i });
IEnumerable<GenerationResult> results = transformer.Transform(rows);   // lazy: runs as you enumerate

using var stream = new MemoryStream();
transformer.Save(stream);
stream.Position = 0;
EsoLmTransformer reloaded = EsoLmTransformer.Load(stream);
#endregion

Console.WriteLine($"output schema: {output}");
var before = results.Select(r => r.Completion).ToArray();
var after = reloaded.Transform(rows).Select(r => r.Completion).ToArray();
foreach (var text in before)
{
    Console.WriteLine($"a {text}");
}

if (!before.SequenceEqual(after))
{
    Console.Error.WriteLine("FAIL: the reloaded transformer generates differently.");
    return 1;
}

Console.WriteLine("Pipeline OK");
return 0;
