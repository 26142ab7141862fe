using System.CommandLine;
using System.Globalization;
using EsoLM.Cli.Bench;
using Spectre.Console;

namespace EsoLM.Cli.Commands;

/// <summary>
/// <c>esolm bench &lt;what&gt;</c>. Each benchmark is one subcommand; add one with a single
/// <c>cmd.Subcommands.Add(...)</c> line in <see cref="Create"/>, reusing <see cref="JsonOption"/> and <see cref="ThreadsOption"/>.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var cmd = new Command("bench", "Benchmarks (kernels; train and sample to come).");
        cmd.Subcommands.Add(CreateKernels());
        return cmd;
    }

    /// <summary>The shared <c>--json</c> option: print one JSON line instead of a table.</summary>
    public static Option<bool> JsonOption() => new("--json") { Description = "Print one JSON line instead of a table." };

    /// <summary>The shared <c>--threads N</c> option (default: all cores).</summary>
    public static Option<int> ThreadsOption() => new("--threads") { Description = "Threads (default: all cores).", DefaultValueFactory = _ => -1 };

    /// <summary><c>esolm bench kernels [--json] [--threads N] [--simd LEVEL]</c>.</summary>
    public static Command CreateKernels()
    {
        var json = JsonOption();
        var threads = ThreadsOption();
        var simd = new Option<Tensors.SimdLevel>("--simd") { Description = "SIMD width: Auto, Vector512, Vector256 or Scalar.", DefaultValueFactory = _ => Tensors.SimdLevel.Auto };
        var cmd = new Command("kernels", "GEMM GFLOP/s at the model's shapes against the FMA ceiling, and attention throughput.")
        {
            json, threads, simd,
        };
        cmd.SetAction(pr =>
        {
            var result = KernelBenchmark.Run(pr.GetValue(threads), pr.GetValue(simd));
            if (pr.GetValue(json))
            {
                Console.Out.WriteLine(KernelBenchmark.ToJson(result));
            }
            else
            {
                WriteTable(result);
            }

            return 0;
        });
        return cmd;
    }

    private static void WriteTable(KernelBenchmarkResult result)
    {
        var table = new Table().AddColumns("kernel", "shape", "GFLOP/s (best)", "GFLOP/s (median)");
        foreach (var g in result.Gemm)
        {
            table.AddRow("gemm", $"{g.M}×{g.K}×{g.N}", F(g.Gflops), F(g.MedianGflops));
        }

        table.AddRow("attention (1 thread)", "256 q × ≤1024 k × 64", F(result.AttentionGflops), "");
        table.AddRow("FMA ceiling", "", F(result.FmaCeilingGflops), "");
        foreach (var (name, value) in result.Extra)
        {
            table.AddRow(name, "", F(value), "");
        }

        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"threads {result.Threads}, simd {result.Simd}, gemm/ceiling {result.GemmPeakRatio:P1}"));
    }

    private static string F(double v) => v.ToString("F1", CultureInfo.InvariantCulture);
}
