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
        var cmd = new Command("bench", "Benchmarks: kernels, training throughput, sampling speed (the paper's Table 3).");
        cmd.Subcommands.Add(CreateKernels());
        cmd.Subcommands.Add(CreateTrain());
        cmd.Subcommands.Add(SampleBenchmarkCommand.Create());
        cmd.Subcommands.Add(CreateServe());
        return cmd;
    }

    /// <summary><c>esolm bench serve [--model M] [--clients 1,8,32] [--requests N] [--max-tokens N] [--json]</c>.</summary>
    public static Command CreateServe()
    {
        var json = JsonOption();
        var threads = ThreadsOption();
        var model = new Option<string?>("--model") { Description = "Model file to serve (default: a random 4 × 256 byte-level model, context 256)." };
        var clients = new Option<string>("--clients") { Description = "Comma-separated concurrent client counts.", DefaultValueFactory = _ => "1,8,32" };
        var requests = new Option<int>("--requests") { Description = "Requests per client at each level (bounded load).", DefaultValueFactory = _ => 4 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "max_tokens of every request.", DefaultValueFactory = _ => 32 };
        var cmd = new Command("serve", "Load test of esolm serve on loopback: throughput and p50/p99 latency at several client counts, with and without request batching.")
        {
            json, threads, model, clients, requests, maxTokens,
        };
        cmd.SetAction(pr =>
        {
            var counts = pr.GetValue(clients)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(c => int.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is >= 1 and <= 256
                    ? n : throw new ArgumentException($"--clients has '{c}'; each count must be an integer in [1, 256]."))
                .ToArray();
            int perClient = pr.GetValue(requests);
            if (perClient is < 1 or > 1000)
            {
                throw new ArgumentException($"--requests is {perClient}; it must be in [1, 1000].");
            }

            var rows = ServeBenchmark.Run(pr.GetValue(model), counts, perClient, pr.GetValue(maxTokens), pr.GetValue(threads));
            Console.Out.WriteLine(pr.GetValue(json) ? ServeBenchmark.ToJson(rows) : ServeBenchmark.ToTable(rows));
            return 0;
        });
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
        var noForward = new Option<bool>("--no-forward") { Description = "Skip the 12-layer, 768-hidden, L=1024 forward measurement." };
        var backend = BackendOption.Create();
        var cmd = new Command("kernels", "GEMM GFLOP/s at the model's shapes against the FMA ceiling, attention throughput, and forward tokens/s (12 layers, 768 hidden, L=1024).")
        {
            json, threads, simd, noForward, backend,
        };
        cmd.SetAction(pr =>
        {
            var result = KernelBenchmark.Run(pr.GetValue(threads), pr.GetValue(simd));
            if (!pr.GetValue(noForward))
            {
                result.Extra.Add(new("forward_tokens_per_second",
                    ModelBenchmarks.ForwardTokensPerSecond(BackendOption.Resolve(pr.GetValue(backend), pr.GetValue(threads), pr.GetValue(simd)))));
            }

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

    /// <summary><c>esolm bench train [--json] [--threads N] [--steps K]</c>: training tokens/s for 4 layers, 256 hidden, L = 128, batch 32.</summary>
    public static Command CreateTrain()
    {
        var json = JsonOption();
        var threads = ThreadsOption();
        var steps = new Option<int>("--steps") { Description = "Timed steps (after 2 warm-up steps).", DefaultValueFactory = _ => 5 };
        var backend = BackendOption.Create();
        var cmd = new Command("train", "Training throughput: 4 layers, 256 hidden, L = 128, batch 32, α0 = 0.25 (both objective terms).")
        {
            json, threads, steps, backend,
        };
        cmd.SetAction(pr =>
        {
            var r = ModelBenchmarks.Train(BackendOption.Resolve(pr.GetValue(backend), pr.GetValue(threads)), steps: pr.GetValue(steps));
            if (pr.GetValue(json))
            {
                using var stream = new MemoryStream();
                using (var w = new System.Text.Json.Utf8JsonWriter(stream))
                {
                    w.WriteStartObject();
                    w.WriteNumber("tokens_per_second", r.TokensPerSecond);
                    w.WriteNumber("seconds_per_step", r.SecondsPerStep);
                    w.WriteNumber("layers", r.Layers);
                    w.WriteNumber("hidden", r.Hidden);
                    w.WriteNumber("length", r.Length);
                    w.WriteNumber("batch", r.Batch);
                    w.WriteNumber("alpha0", r.Alpha0);
                    w.WriteNumber("steps", r.Steps);
                    w.WriteNumber("allocated_bytes_per_step", r.AllocatedBytesPerStep);
                    w.WriteNumber("threads", new Tensors.ComputeContext(pr.GetValue(threads)).MaxDegreeOfParallelism);
                    w.WriteString("backend", pr.GetValue(backend));
                    w.WriteEndObject();
                }

                Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
            }
            else
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"training: {r.TokensPerSecond:F0} tokens/s ({r.SecondsPerStep:F3} s/step), {r.Layers} layers × {r.Hidden} hidden, L={r.Length}, batch {r.Batch}, α0={r.Alpha0}; {r.AllocatedBytesPerStep} bytes allocated per step (all threads)"));
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
