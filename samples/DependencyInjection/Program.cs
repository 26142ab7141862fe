// DependencyInjection: AddEsoLm with a user noise schedule registered by key and selected in options.
using EsoLM.Backends.Cpu;
using EsoLM.Hosting;
using EsoLM.Modeling;
using EsoLM.Schedules;
using EsoLM.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

var tokenizer = new ByteTokenizer();
var config = new ModelConfig
{
    VocabSize = 258, MaskTokenId = 257, HiddenSize = 32, Heads = 4, Layers = 2,
    CondDim = 8, MlpRatio = 2, ContextLength = 32, FrequencyEmbeddingSize = 16,
};
var model = new EsoLmModel(CpuBackend.Default.Load(ModelParameters.CreateInitialized(config, seed: 1)), tokenizer);

#region di
var services = new ServiceCollection();
services.AddEsoLm(options =>
    {
        options.Sampler = "esolm";
        options.Schedule = "square";   // selects the schedule registered below
        options.Steps = 4;
        options.MaxNewTokens = 8;
    })
    .UseModel(model)                   // or set options.ModelPath = "model.safetensors"
    .AddNoiseSchedule<SquareSchedule>("square")
    .AddPreset("greedy", o => o.Greedy = true);

using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });
provider.GetRequiredService<IStartupValidator>().Validate();   // a host does this in StartAsync

var generator = provider.GetRequiredService<EsoLmGenerator>();
GenerationResult result = generator.Generate(new GenerationRequest("hi ") { Seed = 7 });
#endregion

Console.WriteLine($"completion: {result.Completion.Length} chars, sampler {result.Sampler}");
var schedule = (SquareSchedule)provider.GetRequiredKeyedService<INoiseSchedule>("square");
var greedy = provider.GetRequiredKeyedService<EsoLmGenerator>("greedy");
if (schedule.Evaluations == 0 || !greedy.Options.Greedy || result.TokenIds.Count == 0)
{
    Console.Error.WriteLine("FAIL: the user schedule was not used, or the preset is missing.");
    return 1;
}

Console.WriteLine($"DependencyInjection OK (the user schedule was evaluated {schedule.Evaluations} times)");
return 0;

#region custom-schedule
/// <summary>s(t) = 1 − t²: keeps more tokens clean early on. Pure and thread-safe.</summary>
public sealed class SquareSchedule : INoiseSchedule
{
    private int _evaluations;

    public int Evaluations => Volatile.Read(ref _evaluations);

    public string Name => "square";

    public double Shape(double t)
    {
        Interlocked.Increment(ref _evaluations);
        return 1 - (0.999 * t * t);
    }

    public double ShapeDerivative(double t) => -2 * 0.999 * t;
}
#endregion
