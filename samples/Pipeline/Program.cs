// Pipeline (no ML.NET needed): estimator -> transformer, lazy and batched generation, save/load round trip.
// For ML.NET pipelines see samples/MLNet (package EsoLM.ML).
using EsoLM.Hosting;
using EsoLM.Pipeline;
using EsoLM.Data;
using EsoLM.Training;

#region pipeline
var estimator = new EsoLmEstimator(new EsoLmEstimatorOptions
{
    ContextLength = 32, HiddenSize = 32, Layers = 2,
    Trainer = new TrainerOptions { Steps = 10, BatchSize = 8, WarmupSteps = 2, LearningRate = 3e-3 },
    Generation = new EsoLmOptions { Steps = 8, MaxNewTokens = 16 },
});
EsoLmTransformer transformer = estimator.Fit(BuiltInLanguage.CreateGenerator(2).Documents(100, 2));

var rows = Enumerable.Range(0, 3).Select(i => new GenerationRequest("a ") { Seed = (ulong)i });
IEnumerable<GenerationResult> results = transformer.Transform(rows);   // lazy: runs as you enumerate
IReadOnlyList<GenerationResult> batch = transformer.GenerateBatch(rows.ToList());   // batched: rows share forward passes

using var stream = new MemoryStream();
transformer.Save(stream);
stream.Position = 0;
EsoLmTransformer reloaded = EsoLmTransformer.Load(stream);
#endregion

var before = results.Select(r => r.Completion).ToArray();
var after = reloaded.Transform(rows).Select(r => r.Completion).ToArray();
foreach (var text in before)
{
    Console.WriteLine($"a {text}");
}

if (!before.SequenceEqual(after) || !before.SequenceEqual(batch.Select(r => r.Completion)))
{
    Console.Error.WriteLine("FAIL: the reloaded transformer or the batched path generates differently.");
    return 1;
}

Console.WriteLine("Pipeline OK");
return 0;
