using System.Globalization;
using System.Text.Json;
using EsoLM.Masks;
using EsoLM.Sampling;
using EsoLM.Schedules;
using EsoLM.Tensors;
using ScottPlot;

namespace EsoLM.DocsFigures;

/// <summary>
/// Draws the docs site's figures with ScottPlot. <c>concepts OUT</c>: the attention masks (from <see cref="MaskRules"/>)
/// and a two-phase sampling plan (from <see cref="StepPlanner"/>). <c>results DATA OUT</c>: the Results plots from the
/// JSON lines that <c>esolm eval --json</c> and <c>esolm bench sample --json</c> printed.
/// </summary>
internal static class Program
{
    private static int Main(string[] args)
    {
        if (args.Length == 2 && args[0] == "concepts")
        {
            Concepts(args[1]);
            return 0;
        }

        if (args.Length == 3 && args[0] == "results")
        {
            Results(args[1], args[2]);
            return 0;
        }

        Console.Error.WriteLine("usage: EsoLM.DocsFigures concepts OUT_DIR | results DATA_DIR OUT_DIR");
        return 1;
    }

    // ---------------------------------------------------------------- concepts

    private static void Concepts(string outDir)
    {
        Directory.CreateDirectory(outDir);
        const int length = 8, clean = 3;
        var ranges = new KeyRange[2 * length];

        MaskRules.Diffusion(EsoLmVariant.B, length, clean, ranges);
        SaveMask(MaskRules.ToDense(ranges.AsSpan(0, length), length), clean, 0,
            "Diffusion phase, variant B (causal)", Path.Combine(outDir, "mask-diffusion-b.png"));
        MaskRules.Diffusion(EsoLmVariant.A, length, clean, ranges);
        SaveMask(MaskRules.ToDense(ranges.AsSpan(0, length), length), clean, 0,
            "Diffusion phase, variant A", Path.Combine(outDir, "mask-diffusion-a.png"));
        MaskRules.Diffusion(EsoLmVariant.Mdlm, length, clean, ranges);
        SaveMask(MaskRules.ToDense(ranges.AsSpan(0, length), length), clean, 0,
            "MDLM baseline (bidirectional)", Path.Combine(outDir, "mask-diffusion-mdlm.png"));
        MaskRules.Sequential(EsoLmVariant.B, length, clean, ranges);
        SaveMask(MaskRules.ToDense(ranges, 2 * length), clean, length,
            "Sequential phase (2L), variant B", Path.Combine(outDir, "mask-sequential-b.png"));
        MaskRules.Sequential(EsoLmVariant.A, length, clean, ranges);
        SaveMask(MaskRules.ToDense(ranges, 2 * length), clean, length,
            "Sequential phase (2L), variant A", Path.Combine(outDir, "mask-sequential-a.png"));

        TwoPhase(Path.Combine(outDir, "two-phase-sampling.png"));
    }

    /// <summary>A query × key heatmap: dark = the query attends to the key. Slots are in generation order.</summary>
    private static void SaveMask(bool[,] allowed, int clean, int sequentialHalf, string title, string path)
    {
        int rows = allowed.GetLength(0), cols = allowed.GetLength(1);
        var data = new double[rows, cols];
        for (int q = 0; q < rows; q++)
        {
            for (int k = 0; k < cols; k++)
            {
                data[q, k] = allowed[q, k] ? 1 : 0;
            }
        }

        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(data);
        heatmap.Colormap = new Discrete([Colors.White, Color.FromHex("#1f4e79")]);
        heatmap.ManualRange = new ScottPlot.Range(0, 1);
        heatmap.CellAlignment = Alignment.MiddleCenter;
        plot.Title(title);
        plot.XLabel(sequentialHalf == 0 ? "key slot (generation order)" : "key slot (0..L−1: z, L..2L−1: x copy)");
        plot.YLabel("query slot");
        plot.Axes.SetLimits(-0.5, cols - 0.5, rows - 0.5, -0.5);   // query 0 at the top
        Ticks(plot, cols, rows);
        var cleanLine = plot.Add.VerticalLine(clean - 0.5);
        cleanLine.Color = Colors.OrangeRed;
        cleanLine.LinePattern = LinePattern.Dashed;
        cleanLine.LegendText = $"first {clean} slots clean";
        if (sequentialHalf > 0)
        {
            var half = plot.Add.HorizontalLine(sequentialHalf - 0.5);
            half.Color = Colors.Gray;
            var halfV = plot.Add.VerticalLine(sequentialHalf - 0.5);
            halfV.Color = Colors.Gray;
        }

        plot.ShowLegend(Alignment.LowerLeft);
        int size = sequentialHalf > 0 ? 520 : 400;
        plot.SavePng(path, size, size);
    }

    private static void Ticks(Plot plot, int cols, int rows)
    {
        var xt = new ScottPlot.TickGenerators.NumericManual();
        for (int i = 0; i < cols; i++)
        {
            xt.AddMajor(i, i.ToString(CultureInfo.InvariantCulture));
        }

        var yt = new ScottPlot.TickGenerators.NumericManual();
        for (int i = 0; i < rows; i++)
        {
            yt.AddMajor(i, i.ToString(CultureInfo.InvariantCulture));
        }

        plot.Axes.Bottom.TickGenerator = xt;
        plot.Axes.Left.TickGenerator = yt;
    }

    /// <summary>
    /// One row per sampling step, one column per position: which positions are decoded at that step, by diffusion
    /// (several per step, random order) or sequentially (one per step, left to right). Plan and order from the library.
    /// </summary>
    private static void TwoPhase(string path)
    {
        const int length = 24, steps = 6;
        const double alphaEval = 0.5;
        const ulong seed = 5;
        StepPlan plan = StepPlanner.Plan(length, steps, alphaEval, LogLinearSchedule.Default, seed);
        var order = new int[length];
        StepPlanner.GenerationOrder(seed, 0, plan.DiffusionTokens, order);

        int rows = plan.StepCount;
        var data = new double[rows, length];
        var decodedAt = new int[length];
        int slot = 0;
        for (int s = 0; s < rows; s++)
        {
            for (int i = 0; i < plan.Steps[s]; i++, slot++)
            {
                decodedAt[order[slot]] = s;
            }
        }

        for (int s = 0; s < rows; s++)
        {
            for (int p = 0; p < length; p++)
            {
                data[s, p] = decodedAt[p] < s ? 1 : decodedAt[p] > s ? 0 : s < plan.DiffusionSteps ? 2 : 3;
            }
        }

        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(data);
        heatmap.Colormap = new Discrete([Colors.White, Color.FromHex("#c9c9c9"), Color.FromHex("#1f77b4"), Color.FromHex("#ff7f0e")]);
        heatmap.ManualRange = new ScottPlot.Range(0, 3);
        heatmap.CellAlignment = Alignment.MiddleCenter;
        plot.Axes.SetLimits(-0.5, length - 0.5, rows - 0.5, -0.5);
        Ticks(plot, length, rows);
        plot.Title($"Two-phase sampling (L = {length}, T = {steps}, α_eval = {alphaEval.ToString(CultureInfo.InvariantCulture)}):\n" +
                   $"{plan.DiffusionTokens} positions by diffusion in {plan.DiffusionSteps} steps, then {plan.SequentialSteps} left to right");
        plot.XLabel("position");
        plot.YLabel("step");
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "decoded by diffusion at this step", FillColor = Color.FromHex("#1f77b4") });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "decoded sequentially at this step", FillColor = Color.FromHex("#ff7f0e") });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "already decoded", FillColor = Color.FromHex("#c9c9c9") });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "still masked", FillColor = Colors.White, LineColor = Colors.Gray });
        plot.ShowLegend(Edge.Bottom);
        plot.SavePng(path, 900, 560);
    }

    // ---------------------------------------------------------------- results

    private static void Results(string dataDir, string outDir)
    {
        Directory.CreateDirectory(outDir);
        AlphaVersusPerplexity(dataDir, Path.Combine(outDir, "alpha0-vs-perplexity.png"));
        SpeedVersusLength(Path.Combine(dataDir, "bench-sample.json"), Path.Combine(outDir, "speed-vs-length.png"));
        QualityVersusNfe(dataDir, Path.Combine(outDir, "quality-vs-nfe.png"));
    }

    private static JsonElement ReadLine(string path)
    {
        string line = File.ReadLines(path).First(l => l.TrimStart().StartsWith('{'));
        using var doc = JsonDocument.Parse(line);
        return doc.RootElement.Clone();
    }

    private static void AlphaVersusPerplexity(string dataDir, string path)
    {
        var points = Directory.EnumerateFiles(dataDir, "alpha0-*.json")
            .Select(ReadLine)
            .Select(e => (Alpha: e.GetProperty("alpha0").GetDouble(), Ppl: e.GetProperty("nelbo_ppl").GetDouble()))
            .OrderBy(p => p.Alpha)
            .ToArray();
        var plot = new Plot();
        var line = plot.Add.Scatter(points.Select(p => p.Alpha).ToArray(), points.Select(p => p.Ppl).ToArray());
        line.LegendText = "Eso-LM (B), NELBO perplexity";
        line.MarkerSize = 8;
        string mdlmPath = Path.Combine(dataDir, "mdlm.json");
        if (File.Exists(mdlmPath))
        {
            var mdlm = ReadLine(mdlmPath);
            var m = plot.Add.Marker(1.0, mdlm.GetProperty("nelbo_ppl").GetDouble(), MarkerShape.FilledSquare, 10, Colors.OrangeRed);
            m.LegendText = "MDLM (bidirectional), α0 = 1";
        }

        plot.Title("α0 against perplexity (held-out text, same training budget)");
        plot.XLabel("α0 (0 = autoregressive, 1 = masked diffusion)");
        plot.YLabel("NELBO perplexity (lower is better)");
        plot.Axes.SetLimitsX(-0.05, 1.05);
        plot.Axes.Margins(bottom: 0.1, top: 0.1);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 700, 450);
    }

    private static void SpeedVersusLength(string benchPath, string path)
    {
        var rows = ReadLine(benchPath).GetProperty("rows").EnumerateArray()
            .Where(r => r.GetProperty("batch").GetInt32() == 1)
            .Select(r => (Method: r.GetProperty("method").GetString()!, Length: r.GetProperty("length").GetInt32(),
                Seconds: r.GetProperty("seconds").GetDouble(),
                Extrapolated: r.TryGetProperty("extrapolated", out var x) && x.GetBoolean()))
            .ToArray();
        var names = new Dictionary<string, string>
        {
            ["ar"] = "AR (KV cache)", ["ar_exact"] = "AR exact (Eso-LM, α_eval = 0)", ["mdlm"] = "MDLM",
            ["bd3_4"] = "BD3-LM L′ = 4", ["bd3_16"] = "BD3-LM L′ = 16", ["esolm_b"] = "Eso-LM (B)",
        };
        var plot = new Plot();
        foreach (var group in rows.GroupBy(r => r.Method))
        {
            var pts = group.OrderBy(r => r.Length).ToArray();
            var s = plot.Add.Scatter(pts.Select(p => Math.Log2(p.Length)).ToArray(), pts.Select(p => Math.Log10(p.Seconds)).ToArray());
            s.LegendText = names.GetValueOrDefault(group.Key, group.Key) + (pts.Any(p => p.Extrapolated) ? " (long runs extrapolated)" : "");
            s.MarkerSize = 8;
            s.LineWidth = 2;
        }

        var xt = new ScottPlot.TickGenerators.NumericManual();
        foreach (int l in rows.Select(r => r.Length).Distinct().Order())
        {
            xt.AddMajor(Math.Log2(l), l.ToString(CultureInfo.InvariantCulture));
        }

        plot.Axes.Bottom.TickGenerator = xt;
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => Math.Pow(10, y).ToString("0.###", CultureInfo.InvariantCulture),
        };
        plot.Title("Seconds per sample against length L (batch 1, NFE = L)");
        plot.XLabel("sequence length L (log scale)");
        plot.YLabel("seconds per sample (log scale)");
        plot.Axes.Margins(left: 0.15, right: 0.15);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(path, 760, 480);
    }

    private static void QualityVersusNfe(string dataDir, string path)
    {
        var series = new (string Pattern, string Label)[]
        {
            ("nfe-esolm-b1-T*.json", "Eso-LM (B), α0 = α_eval = 1"),
            ("nfe-esolm-b025-T*.json", "Eso-LM (B), α0 = α_eval = 0.25"),
            ("nfe-mdlm-T*.json", "MDLM"),
        };
        var plot = new Plot();
        foreach (var (pattern, label) in series)
        {
            var pts = Directory.EnumerateFiles(dataDir, pattern).Select(ReadLine)
                .Select(e => (Nfe: e.GetProperty("nfe").GetDouble(), Ppl: e.GetProperty("gen_ppl").GetDouble()))
                .OrderBy(p => p.Nfe)
                .ToArray();
            if (pts.Length == 0)
            {
                continue;
            }

            var s = plot.Add.Scatter(pts.Select(p => Math.Log2(p.Nfe)).ToArray(), pts.Select(p => Math.Log10(p.Ppl)).ToArray());
            s.LegendText = label;
            s.MarkerSize = 8;
            s.LineWidth = 2;
        }

        string arPath = Path.Combine(dataDir, "nfe-ar.json");
        if (File.Exists(arPath))
        {
            var ar = ReadLine(arPath);
            var m = plot.Add.Marker(Math.Log2(ar.GetProperty("nfe").GetDouble()), Math.Log10(ar.GetProperty("gen_ppl").GetDouble()), MarkerShape.FilledDiamond, 12, Colors.Black);
            m.LegendText = "AR (α0 = 0), NFE = L";
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            IntegerTicksOnly = true,
            LabelFormatter = x => Math.Pow(2, x).ToString("0.#", CultureInfo.InvariantCulture),
        };
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => Math.Pow(10, y).ToString("0.###", CultureInfo.InvariantCulture),
        };
        plot.Title("Sample quality against the number of function evaluations (lower is better)");
        plot.XLabel("NFE (forward passes per sample, log scale)");
        plot.YLabel("generative PPL (AR scorer, log scale)");
        plot.ShowLegend(Alignment.LowerLeft);
        plot.SavePng(path, 760, 480);
    }

    /// <summary>A colormap of a few flat colors for categorical heatmaps.</summary>
    private sealed class Discrete(Color[] colors) : IColormap
    {
        public string Name => "discrete";

        public Color GetColor(double normalizedIntensity)
        {
            int i = (int)Math.Round(Math.Clamp(normalizedIntensity, 0, 1) * (colors.Length - 1));
            return colors[i];
        }
    }
}
