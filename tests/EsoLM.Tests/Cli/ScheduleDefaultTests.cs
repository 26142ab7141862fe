using System.Text.Json;
using EsoLM.IO;
using EsoLM.Masks;
using EsoLM.Text;
using EsoLM.Sampling;
using EsoLM.Tests.DependencyInjection;
using EsoLM.Tests.Support;
using EsoLM.Tests.Text;
using EsoLM.Training;

namespace EsoLM.Tests.Cli;

/// <summary>
/// <c>esolm sample</c> without <c>--schedule</c> plans its steps with the schedule the model was trained with (read from
/// the file's objective entry), not always log-linear. The expectation is the same command with the schedule named
/// explicitly; the log-linear run shows the two schedules do give different samples here, so the check can fail.
/// </summary>
[Collection(ConsoleRedirection.Name)]
public sealed class ScheduleDefaultTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("esolm-schedule-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Sample_defaults_to_the_training_schedule()
    {
        var model = TinyModels.Model(seed: 5);
        var path = Path.Combine(_dir, "cosine.safetensors");
        ModelFile.Save(path, model.Transformer.CopyParametersToHost(), model.Tokenizer.Describe(), new Dictionary<string, string>
        {
            [TrainingDescription.MetadataKey] = Checkpoint.Describe(new ObjectiveOptions
            {
                Variant = EsoLmVariant.B, Alpha0 = 0.5, Schedule = new EsoLM.Schedules.CosineSchedule(),
            }),
        });

        string[] Run(params string[] extra)
        {
            var (code, stdout, stderr) = CliRunner.Run(["sample", "--model", path, "--count", "4", "--steps", "3", "--seed", "11", "--json", .. extra]);
            Assert.True(code == 0, stderr);
            using var doc = JsonDocument.Parse(stdout);
            var samples = doc.RootElement.GetProperty("samples").EnumerateArray().Select(e => e.GetString() ?? string.Empty);
            return [.. samples, "nfe=" + doc.RootElement.GetProperty("nfe").GetInt32()];
        }

        var byDefault = Run();
        Assert.Equal(Run("--schedule", "cosine"), byDefault);
        Assert.NotEqual(Run("--schedule", "log-linear"), byDefault);
    }
}
