using System.Text.Json;
using EsoLM.IO;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tests.Support;
using EsoLM.Training;
using EsoLM.Diagnostics;

namespace EsoLM.Tests.Training;

/// <summary>The objective's loss values against the reference implementation's (loss_B.json, diffusion_*.json, sequential_*.json).</summary>
public sealed class ObjectiveGoldenTests
{
    private static readonly Lazy<DiffusionTransformer> Model = new(() => GoldenModel.Create());

    [Fact]
    public void Combined_nelbo_matches_reference()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.Reference, "loss_B.json")));
        var c = doc.RootElement.GetProperty("combined_nelbo");
        var x0 = ReferenceTensor.Get(c, "x0");
        int batch = x0.Shape[0], length = x0.Shape[1];
        var diff = c.GetProperty("diffusion_half");
        var ar = c.GetProperty("ar_half");
        var t = ReferenceTensor.Get(diff, "t").Values;
        var zt = ReferenceTensor.Get(diff, "zt").ToInt32s();
        var dIdx = ReferenceTensor.Get(diff, "sort_idx").ToInt32s();
        var z0 = ReferenceTensor.Get(ar, "z0").ToInt32s();
        var aIdx = ReferenceTensor.Get(ar, "sort_idx").ToInt32s();
        int split = c.GetProperty("split_row").GetInt32();
        var rows = new List<RowCorruption>();
        for (int b = 0; b < batch; b++)
        {
            bool seq = b >= split;
            int r = seq ? b - split : b;
            rows.Add(new RowCorruption(seq, seq ? 0 : t[r],
                (seq ? z0 : zt).AsSpan(r * length, length).ToArray(), (seq ? aIdx : dIdx).AsSpan(r * length, length).ToArray()));
        }

        var objective = new EsoLmObjective(new ObjectiveOptions { Alpha0 = c.GetProperty("alpha_0").GetDouble(), BatchSplit = c.GetProperty("batch_split").GetDouble() },
            Model.Value.Config.MaskTokenId);
        Assert.Equal(split, objective.DiffusionRows(batch));
        var value = objective.Evaluate(new TrainingGraph(Model.Value), x0.ToInt32s(), batch, length, rows, null, forEvaluation: true);
        double expected = c.GetProperty("loss").GetDouble();
        Assert.Equal(expected, value.Loss, 1e-4 * Math.Abs(expected));
        Assert.Equal(c.GetProperty("num_tokens").GetInt32(), value.NumTokens);
        Assert.Equal(c.GetProperty("nlls").GetDouble(), value.Loss * value.NumTokens, 1e-4 * c.GetProperty("nlls").GetDouble());
        Assert.Equal(c.GetProperty("reconstruction_loss").GetDouble(), value.SequentialLoss / value.SequentialTokens * value.NumTokens,
            1e-4 * c.GetProperty("reconstruction_loss").GetDouble());
    }

    [Theory]
    [InlineData("diffusion_B.json", "loss_alpha0_1", 1.0)]
    [InlineData("diffusion_B.json", "loss_alpha0_0.5", 0.5)]
    [InlineData("diffusion_A.json", "loss_alpha0_1", 1.0)]
    [InlineData("diffusion_A.json", "loss_alpha0_0.5", 0.5)]
    public void Per_slot_diffusion_losses_match_reference(string file, string key, double alpha0)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.Reference, file)));
        var variant = doc.RootElement.GetProperty("variant").GetString() == "A" ? EsoLmVariant.A : EsoLmVariant.B;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var x0 = ReferenceTensor.Get(c, "x0");
            int batch = x0.Shape[0], length = x0.Shape[1];
            var t = ReferenceTensor.Get(c, "t").Values;
            var zt = ReferenceTensor.Get(c, "zt").ToInt32s();
            var idx = ReferenceTensor.Get(c, "sort_idx").ToInt32s();
            var rows = Enumerable.Range(0, batch).Select(b =>
                new RowCorruption(false, t[b], zt.AsSpan(b * length, length).ToArray(), idx.AsSpan(b * length, length).ToArray())).ToList();
            var objective = new EsoLmObjective(new ObjectiveOptions { Alpha0 = alpha0, BatchSplit = 1, Variant = variant }, Model.Value.Config.MaskTokenId);
            var graph = new TrainingGraph(Model.Value);
            objective.Evaluate(graph, x0.ToInt32s(), batch, length, rows, null, forEvaluation: true);
            var expected = ReferenceTensor.Get(c.GetProperty(key), "loss").Values;
            var lowVar = ReferenceTensor.Get(c, "loss_low_var").Values;
            var weight = ReferenceTensor.Get(c.GetProperty(key), "weight").Values;
            for (int b = 0; b < batch; b++)
            {
                for (int i = 0; i < length; i++)
                {
                    double nll = graph.RowLosses[(b * length) + i];
                    Assert.Equal(lowVar[(b * length) + i], nll, 1e-4 * Math.Max(1, Math.Abs(lowVar[(b * length) + i])));
                    double ours = -weight[b] * nll;
                    Assert.Equal(expected[(b * length) + i], ours, 1e-4 * Math.Max(1, Math.Abs(expected[(b * length) + i])));
                }
            }
        }
    }

    [Theory]
    [InlineData("sequential_B.json")]
    [InlineData("sequential_A.json")]
    public void Per_slot_sequential_losses_match_reference(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.Reference, file)));
        var variant = doc.RootElement.GetProperty("variant").GetString() == "A" ? EsoLmVariant.A : EsoLmVariant.B;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var x0 = ReferenceTensor.Get(c, "x0");
            int batch = x0.Shape[0], length = x0.Shape[1];
            var z0 = ReferenceTensor.Get(c, "z0").ToInt32s();
            var idx = ReferenceTensor.Get(c, "sort_idx").ToInt32s();
            var rows = Enumerable.Range(0, batch).Select(b =>
                new RowCorruption(true, 0, z0.AsSpan(b * length, length).ToArray(), idx.AsSpan(b * length, length).ToArray())).ToList();
            var objective = new EsoLmObjective(new ObjectiveOptions { Alpha0 = 0.5, BatchSplit = 0, Variant = variant }, Model.Value.Config.MaskTokenId);
            var graph = new TrainingGraph(Model.Value);
            objective.Evaluate(graph, x0.ToInt32s(), batch, length, rows, null, forEvaluation: true);
            var expected = ReferenceTensor.Get(c, "loss").Values;
            for (int b = 0; b < batch; b++)
            {
                for (int i = 0; i < length; i++)
                {
                    Assert.Equal(expected[(b * length) + i], graph.RowLosses[(b * 2 * length) + i], 1e-4 * Math.Max(1, expected[(b * length) + i]));
                }
            }
        }
    }
}
