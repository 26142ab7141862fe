using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using EsoLM.Diagnostics;

namespace EsoLM.Cli.Commands;

/// <summary>
/// <c>esolm check-parity --golden DIR [--tolerance T] [--json] [--backend cpu]</c>: compares this implementation with reference vectors
/// (config.json, weights.safetensors and the case files) — the check to run after converting a checkpoint.
/// </summary>
internal static class CheckParityCommand
{
    public static Command Create()
    {
        var golden = new Option<DirectoryInfo>("--golden") { Description = "Folder in the reference-vector format (config.json, weights.safetensors, *.json cases).", Required = true };
        var tolerance = new Option<double>("--tolerance") { Description = "Absolute tolerance on logits and log-probs.", DefaultValueFactory = _ => 1e-4 };
        var json = new Option<bool>("--json") { Description = "Print one JSON line instead of a table." };
        var threads = new Option<int>("--threads") { Description = "Threads (default: all cores).", DefaultValueFactory = _ => -1 };
        var backend = BackendOption.Create();
        var cmd = new Command("check-parity", "Compare the model forward (diffusion, sequential, cached) with reference vectors.")
        {
            golden, tolerance, json, threads, backend,
        };
        cmd.SetAction(pr =>
        {
            var report = ParityCheck.Run(pr.GetValue(golden)!.FullName, pr.GetValue(tolerance),
                BackendOption.Resolve(pr.GetValue(backend), pr.GetValue(threads)));
            if (pr.GetValue(json))
            {
                Console.Out.WriteLine(ToJson(report));
            }
            else
            {
                foreach (var c in report.Cases)
                {
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{(c.Passed ? "ok  " : "FAIL")} {c.Name,-40} max|diff| {c.MaxAbsDiff:E2} over {c.Values} values{(c.Detail is null ? "" : "  " + c.Detail)}"));
                }

                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{(report.Passed ? "PASSED" : "FAILED")}: {report.Cases.Count} cases, max |diff| {report.MaxAbsDiff:E2}, tolerance {report.Tolerance:E1}"));
            }

            return report.Passed ? 0 : 1;
        });
        return cmd;
    }

    internal static string ToJson(ParityReport report)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteNumber("cases", report.Cases.Count);
            w.WriteNumber("max_abs_diff", report.MaxAbsDiff);
            w.WriteNumber("tolerance", report.Tolerance);
            w.WriteBoolean("passed", report.Passed);
            w.WriteStartArray("details");
            foreach (var c in report.Cases)
            {
                w.WriteStartObject();
                w.WriteString("name", c.Name);
                w.WriteNumber("values", c.Values);
                w.WriteNumber("max_abs_diff", c.MaxAbsDiff);
                w.WriteBoolean("passed", c.Passed);
                if (c.Detail is not null)
                {
                    w.WriteString("detail", c.Detail);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
