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
        var noBandwidth = new Option<bool>("--no-bandwidth") { Description = "Skip the copy/read bandwidth and the fp32/bf16/int8 vocabulary-head GEMV measurement." };
        var training = new Option<bool>("--training")
        {
            Description = "Also time the three products of one training layer (6144 rows, 256 → 1024): forward, input gradient and weight gradient.",
        };
        var backend = BackendOption.Create();
        var cmd = new Command("kernels", "GEMM GFLOP/s at the model's shapes against the FMA ceiling, attention throughput, and forward tokens/s (12 layers, 768 hidden, L=1024).")
        {
            json, threads, simd, noForward, backend, noBandwidth, training,
        };
        cmd.SetAction(pr =>
        {
            var result = KernelBenchmark.Run(pr.GetValue(threads), pr.GetValue(simd));
            if (!pr.GetValue(noBandwidth))
            {
                result.Bandwidth = BandwidthBenchmark.Run(new Tensors.ComputeContext(pr.GetValue(threads), pr.GetValue(simd)));
            }

            if (pr.GetValue(training))
            {
                var (forward, input, weight) = KernelBenchmark.MeasureTrainingProducts(new Tensors.ComputeContext(pr.GetValue(threads), pr.GetValue(simd)));
                result.Extra.Add(new("training_forward_gflops", Math.Round(forward, 2)));
                result.Extra.Add(new("training_input_gradient_gflops", Math.Round(input, 2)));
                result.Extra.Add(new("training_weight_gradient_gflops", Math.Round(weight, 2)));
            }

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

    /// <summary>
    /// <c>esolm bench train [--json] [--threads N] [--steps K] [--layers L] [--hidden H] [--heads A] [--cond C] [--length N]
    /// [--batch B] [--alpha0 A] [--grad-accum N]</c>: training tokens/s (default: 4 layers, 256 hidden, 4 heads, cond 128,
    /// L = 128, batch 32, α0 = 0.25, vocabulary 64) with the per-phase profile and the fraction of the FMA ceiling.
    /// </summary>
    public static Command CreateTrain()
    {
        var json = JsonOption();
        var threads = ThreadsOption();
        var steps = new Option<int>("--steps") { Description = "Timed steps (after 2 warm-up steps).", DefaultValueFactory = _ => 5 };
        var layers = new Option<int>("--layers") { Description = "Transformer blocks.", DefaultValueFactory = _ => 4 };
        var hidden = new Option<int>("--hidden") { Description = "Hidden size.", DefaultValueFactory = _ => 256 };
        var heads = new Option<int>("--heads") { Description = "Attention heads.", DefaultValueFactory = _ => 4 };
        var cond = new Option<int>("--cond") { Description = "Conditioning width (capped at the hidden size).", DefaultValueFactory = _ => 128 };
        var length = new Option<int>("--length") { Description = "Sequence length L.", DefaultValueFactory = _ => 128 };
        var batch = new Option<int>("--batch") { Description = "Rows per (micro-)batch.", DefaultValueFactory = _ => 32 };
        var alpha0 = new Option<double>("--alpha0") { Description = "α0 (0.25: both objective terms).", DefaultValueFactory = _ => 0.25 };
        var accum = new Option<int>("--grad-accum") { Description = "Micro-batches per optimizer step.", DefaultValueFactory = _ => 1 };
        var noCeiling = new Option<bool>("--no-ceiling") { Description = "Skip the FMA-ceiling measurement after the timed steps." };
        var backend = BackendOption.Create();
        var cmd = new Command("train", "Training throughput (default: 4 layers, 256 hidden, 4 heads, L = 128, batch 32, α0 = 0.25, both objective terms), " +
            "the time per phase of a step, and the step's matrix GFLOP/s against the FMA ceiling measured in the same run.")
        {
            json, threads, steps, backend, layers, hidden, heads, cond, length, batch, alpha0, accum, noCeiling,
        };
        cmd.SetAction(pr =>
        {
            static int Positive(int value, string name, int max) => value >= 1 && value <= max
                ? value : throw new ArgumentException($"{name} is {value}; it must be in [1, {max}].");
            double a0 = pr.GetValue(alpha0);
            if (!(a0 >= 0 && a0 <= 1))
            {
                throw new ArgumentException($"--alpha0 is {a0}; it must be in [0, 1].");
            }

            var r = ModelBenchmarks.Train(BackendOption.Resolve(pr.GetValue(backend), pr.GetValue(threads)), Positive(pr.GetValue(layers), "--layers", 256),
                Positive(pr.GetValue(hidden), "--hidden", 16384), Positive(pr.GetValue(heads), "--heads", 1024), Positive(pr.GetValue(length), "--length", 1 << 16),
                Positive(pr.GetValue(batch), "--batch", 1 << 16), a0, Positive(pr.GetValue(steps), "--steps", 1_000_000), Positive(pr.GetValue(cond), "--cond", 16384),
                Positive(pr.GetValue(accum), "--grad-accum", 4096), !pr.GetValue(noCeiling));
            int threadCount = new Tensors.ComputeContext(pr.GetValue(threads)).MaxDegreeOfParallelism;
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
                    w.WriteNumber("threads", threadCount);
                    w.WriteString("backend", pr.GetValue(backend));
                    w.WriteNumber("heads", r.Heads);
                    w.WriteNumber("cond_dim", r.CondDim);
                    w.WriteNumber("vocab", r.VocabSize);
                    w.WriteNumber("grad_accum", r.GradientAccumulation);
                    if (r.Phases.Count > 0)
                    {
                        w.WriteStartObject("phase_seconds_per_step");
                        foreach (var (name, value) in r.Phases)
                        {
                            w.WriteNumber(name, Math.Round(value, 6));
                        }

                        w.WriteEndObject();
                        w.WriteNumber("matrix_gflop_per_step", Math.Round(r.MatrixFlopsPerStep / 1e9, 3));
                        w.WriteNumber("step_matrix_gflops", Math.Round(r.StepGflops, 2));
                        w.WriteNumber("gemm_phase_gflops", Math.Round(r.GemmPhaseGflops, 2));
                        w.WriteNumber("fma_ceiling_gflops", Math.Round(r.FmaCeilingGflops, 2));
                        w.WriteNumber("fma_ceiling_fraction", Math.Round(r.CeilingFraction, 4));
                    }

                    w.WriteEndObject();
                }

                Console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
            }
            else
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"training: {r.TokensPerSecond:F0} tokens/s ({r.SecondsPerStep:F3} s/step), {r.Layers} layers × {r.Hidden} hidden, {r.Heads} heads, L={r.Length}, batch {r.Batch}, α0={r.Alpha0}; {r.AllocatedBytesPerStep} bytes allocated per step (all threads)"));
                if (r.Phases.Count > 0)
                {
                    var table = new Table().AddColumns("phase", "ms/step", "share");
                    foreach (var (name, value) in r.Phases)
                    {
                        table.AddRow(name.StartsWith("gemm_", StringComparison.Ordinal) ? "  " + name : name, (value * 1e3).ToString("F1", CultureInfo.InvariantCulture), (value / r.SecondsPerStep).ToString("P1", CultureInfo.InvariantCulture));
                    }

                    AnsiConsole.Write(table);
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"matrix work {r.MatrixFlopsPerStep / 1e9:F1} GFLOP/step: {r.StepGflops:F1} GFLOP/s over the step, {r.GemmPhaseGflops:F1} inside the GEMMs; FMA ceiling {r.FmaCeilingGflops:F1} GFLOP/s → {r.CeilingFraction:P1} of it"));
                }
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
        if (result.Bandwidth is { } bw)
        {
            table.AddRow("copy bandwidth (GB/s, read + written)", "256 MiB", F(bw.CopyGBps), "");
            table.AddRow("read bandwidth (GB/s)", "256 MiB", F(bw.ReadGBps), "");
            foreach (var g in bw.Gemv)
            {
                table.AddRow($"gemv {KernelBenchmark.WeightsName(g.Format)} (GB/s of weights; {g.GBps / bw.CopyGBps:P0} of copy)", $"{g.M}×{g.K}×{g.N}", F(g.GBps), F(g.MedianGBps));
            }
        }

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
