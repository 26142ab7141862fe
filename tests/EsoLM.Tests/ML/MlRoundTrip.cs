using EsoLM.ML;
using Microsoft.ML;

namespace EsoLM.Tests.ML;

/// <summary>The child-process half of the save/load round trip (started through <see cref="Support.Program"/>).</summary>
internal static class MlRoundTrip
{
    public static void RunChild(string zip, string output)
    {
        var ml = new MLContext(seed: 1);
        var model = ml.Model.LoadWithEsoLm(zip, out _);
        var lines = MlFixtures.Describe(ml, model.Transform(ml.Data.LoadFromEnumerable(MlFixtures.CheckRows())));
        File.WriteAllLines(output, lines);
    }
}
