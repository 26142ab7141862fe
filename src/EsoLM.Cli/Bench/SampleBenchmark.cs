using EsoLM.Backends;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EsoLM.Modeling;
using EsoLM.Randomness;
using EsoLM.Sampling;
using EsoLM.Tensors;

namespace EsoLM.Cli.Bench;

/// <summary>One timed configuration of <see cref="SampleBenchmark"/>.</summary>
/// <param name="Method">ar, ar_exact, mdlm, bd3_4, bd3_16 or esolm_b.</param>
/// <param name="Length">L.</param>
/// <param name="Batch">Sequences generated together.</param>
/// <param name="Seconds">Wall seconds per sample (batch wall time / batch; the median over repeats).</param>
/// <param name="Nfe">Forward passes of the batch (network calls).</param>
/// <param name="Extrapolated">Whether <paramref name="Seconds"/> was extrapolated from <paramref name="MeasuredPasses"/> passes.</param>
/// <param name="MeasuredPasses">Passes actually timed.</param>
/// <param name="TokensPerPass">Mean window rows fed per forward pass (all sequences of the batch together).</param>
/// <param name="Weights">Storage of the packed weight matrices (fp32, bf16, int8, int8a16).</param>
/// <param name="KvCache">Storage of the KV cache entries (fp32, bf16).</param>
/// <param name="CpuSeconds">Process CPU seconds (user + system, all threads) per sample over the timed runs: less sensitive
/// than wall time to other processes on a loaded machine (0 when extrapolated).</param>
/// <param name="AllocatedBytesPerPass">Managed bytes the process allocated per forward pass over the timed runs (−1 when extrapolated).</param>
/// <param name="Phases">With <c>--profile</c>: seconds per sample by phase of the sampling step (null otherwise).</param>
internal sealed record SampleBenchmarkRow(string Method, int Length, int Batch, double Seconds, int Nfe, bool Extrapolated, int MeasuredPasses,
    double TokensPerPass, WeightFormat Weights = WeightFormat.Float32, WeightFormat KvCache = WeightFormat.Float32, double CpuSeconds = 0,
    double AllocatedBytesPerPass = -1, IReadOnlyList<KeyValuePair<string, double>>? Phases = null);

/// <summary>Result of <see cref="SampleBenchmark.Run"/>.</summary>
/// <param name="Threads">Threads used.</param>
/// <param name="TopP">Nucleus mass used for every method.</param>
/// <param name="Rows">One row per method × length × batch.</param>
/// <param name="SelectionMicroseconds">Token selection cost per row at V = 50258 (plain vs fast path), by case.</param>
internal sealed record SampleBenchmarkResult(int Threads, double TopP, IReadOnlyList<SampleBenchmarkRow> Rows,
    IReadOnlyList<KeyValuePair<string, double>> SelectionMicroseconds);

/// <summary>
/// <c>esolm bench sample</c>: the paper's Table 3 on this machine. A fixed random-weight model (6 layers, hidden 384,
/// 6 heads, vocabulary 50258 = GPT-2's 50257 + the mask 50257); every method runs exactly L forward passes (NFE = L):
/// <list type="bullet">
/// <item>ar — the "AR (oracle, KV cache)" row: <see cref="AutoregressiveMode.OneTokenPerStepTiming"/>, 1 token per pass.</item>
/// <item>ar_exact — the exact AR sampler of this network (Eso-LM α_eval = 0): 2 tokens per pass.</item>
/// <item>mdlm — <see cref="MdlmSamplerOptions.OneTokenPerStep"/>: one position unmasked per pass, all L tokens fed bidirectionally.</item>
/// <item>bd3_4 / bd3_16 — <see cref="BlockDiffusionSamplerOptions.OneTokenPerStep"/> with L′ = 4 / 16: one position per pass, the
/// current block (plus the finished block folded into its first pass) fed, earlier blocks cached.</item>
/// <item>esolm_b — Eso-LM (B), α_eval = 1 with a fixed plan of L one-token diffusion steps (random order): previous token + one mask per pass.</item>
/// </list>
/// Full sampling is timed (forward + nucleus p = 0.9 + Gumbel-max), unlike the paper which times forwards only.
/// </summary>
internal static class SampleBenchmark
{
    /// <summary>The benchmark model shape (the paper's small model with GPT-2's vocabulary).</summary>
    public static ModelConfig Config(int context) => new()
    {
        VocabSize = 50258,
        MaskTokenId = 50257,
        HiddenSize = 384,
        Heads = 6,
        Layers = 6,
        CondDim = 128,
        ContextLength = context,
    };

    /// <summary>The methods, in table order.</summary>
    public static readonly string[] Methods = ["ar", "ar_exact", "mdlm", "bd3_4", "bd3_16", "esolm_b"];

    /// <summary>Runs the benchmark.</summary>
    /// <param name="lengths">Sequence lengths L.</param>
    /// <param name="batches">Batch sizes.</param>
    /// <param name="threads">Threads (≤ 0: all cores).</param>
    /// <param name="repeats">Timed repeats per configuration (the median is reported).</param>
    /// <param name="mdlmFull">Time MDLM's L passes in full everywhere (otherwise only where L²·batch ≤ 256², else 8 passes, extrapolated).</param>
    /// <param name="methods">Methods to run (default: all).</param>
    /// <param name="progress">Receives a line per finished configuration.</param>
    /// <param name="backend">Compute backend name (default <c>cpu</c>).</param>
    /// <param name="weights">Weight formats to time (default fp32 only); each gets its own rows beside fp32.</param>
    /// <param name="kvCaches">KV-cache formats to time (default fp32 only); every weight format runs with each.</param>
    /// <param name="profile">Time the phases of each sampling step (CPU backend; adds a timestamp per phase, so the headline
    /// times of a profiled run are slightly higher).</param>
    public static SampleBenchmarkResult Run(IReadOnlyList<int> lengths, IReadOnlyList<int> batches, int threads = -1, int repeats = 1,
        bool mdlmFull = false, IReadOnlyCollection<string>? methods = null, Action<string>? progress = null, string backend = "cpu",
        IReadOnlyList<WeightFormat>? weights = null, IReadOnlyList<WeightFormat>? kvCaches = null, bool profile = false)
    {
        weights ??= [WeightFormat.Float32];
        kvCaches ??= [WeightFormat.Float32];
        if (kvCaches.Count == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(kvCaches), 0, "At least one KV-cache format is needed.");
        }

        if (weights.Count == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(weights), 0, "At least one weight format is needed.");
        }

        ArgumentNullException.ThrowIfNull(lengths);
        ArgumentNullException.ThrowIfNull(batches);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        if (lengths.Count == 0 || lengths.Any(l => l < 16 || l > 16384))
        {
            throw new ArgumentOutOfRangeException(nameof(lengths), string.Join(',', lengths), "Lengths must be in [16, 16384].");
        }

        if (batches.Count == 0 || batches.Any(b => b < 1 || b > 1024))
        {
            throw new ArgumentOutOfRangeException(nameof(batches), string.Join(',', batches), "Batch sizes must be in [1, 1024].");
        }

        methods ??= Methods;
        foreach (var m in methods)
        {
            if (!Methods.Contains(m))
            {
                throw new ArgumentOutOfRangeException(nameof(methods), m, $"Unknown method; known: {string.Join(", ", Methods)}.");
            }
        }

        var compute = new ComputeContext(threads);
        var parameters = ModelParameters.CreateRandom(Config(lengths.Max()), 2025, 0.02f);
        var models = weights.Distinct().SelectMany(f => kvCaches.Distinct().Select(kv => (Weights: f, Kv: kv)))
            .Select(c => (c.Weights, c.Kv, Network: Commands.BackendOption.Resolve(backend, threads, SimdLevel.Auto, c.Weights, c.Kv).Load(parameters)))
            .ToArray();
        var selection = new TokenSelectionOptions { TopP = 0.9 };

        // Warm-up (JIT to tier 1, caches, pools) on a short length.
        foreach (var (_, _, model) in models)
        {
            foreach (var m in methods)
            {
                Measure(model, m, 32, 2, selection, 1, mdlmFull: true);
            }
        }

        var rows = new List<SampleBenchmarkRow>();
        foreach (int length in lengths)
        {
            foreach (int batch in batches)
            {
                foreach (var m in Methods.Where(methods.Contains))
                {
                    foreach (var (format, kv, model) in models)
                    {
                        bool full = m != "mdlm" || mdlmFull || ((long)length * length * batch <= 256L * 256);
                        var cpuModel = model as DiffusionTransformer;
                        var phases = profile && full && cpuModel is not null ? new InferenceProfile() : null;
                        if (phases is not null)
                        {
                            cpuModel!.Profile = phases.Blocks;
                            InferenceProfile.Active = phases;
                        }

                        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                        long allocated = GC.GetTotalAllocatedBytes(precise: true);
                        SampleBenchmarkRow row;
                        try
                        {
                            row = Measure(model, m, length, batch, selection, repeats, full) with { Weights = format, KvCache = kv };
                        }
                        finally
                        {
                            if (phases is not null)
                            {
                                InferenceProfile.Active = null;
                                cpuModel!.Profile = null;
                            }
                        }

                        if (full)
                        {
                            row = row with
                            {
                                CpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds / repeats / batch,
                                AllocatedBytesPerPass = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / (double)repeats / row.Nfe,
                                Phases = phases is null ? null : PhaseTable(phases, row.Seconds * repeats * batch, repeats * batch),
                            };
                        }

                        rows.Add(row);
                        progress?.Invoke(string.Create(CultureInfo.InvariantCulture,
                            $"{row.Method,-9} {KernelBenchmark.WeightsName(row.Weights),-4} kv {KernelBenchmark.WeightsName(row.KvCache),-4} L={row.Length,-5} batch={row.Batch,-3} {row.Seconds,9:F3} s/sample  NFE {row.Nfe}{(row.Extrapolated ? " (extrapolated)" : "")}"));
                    }
                }
            }
        }

        return new SampleBenchmarkResult(compute.MaxDegreeOfParallelism, selection.TopP, rows, MeasureSelection());
    }

    /// <summary>Seconds per sample by phase: the block phases, the rest of the forward, selection and the engine's remainder.</summary>
    private static List<KeyValuePair<string, double>> PhaseTable(InferenceProfile p, double totalSeconds, int samples)
    {
        var b = p.Blocks;
        var list = new List<KeyValuePair<string, double>>
        {
            new("block_gemm", b.Seconds(Training.StepPhase.GemmForward)),
            new("head_gemm", p.Seconds(InferencePhase.HeadGemm)),
            new("attention_and_cache_write", b.Seconds(Training.StepPhase.AttentionForward)),
            new("layer_norm_modulation", b.Seconds(Training.StepPhase.LayerNorm) + p.Seconds(InferencePhase.FinalNorm)),
            new("rotary", b.Seconds(Training.StepPhase.Rotary)),
            new("residual_embedding", b.Seconds(Training.StepPhase.Residual)),
            new("gelu", b.Seconds(Training.StepPhase.Activations)),
        };
        double inForward = list.Sum(kv => kv.Value);
        double forward = p.Seconds(InferencePhase.Forward);
        list.Add(new("forward_other", forward - inForward));
        list.Add(new("selection", p.Seconds(InferencePhase.Selection)));
        list.Add(new("planner_engine_other", totalSeconds - forward - p.Seconds(InferencePhase.Selection)));
        return list.Select(kv => new KeyValuePair<string, double>(kv.Key, kv.Value / samples)).ToList();
    }

    private static ISampler Create(INetwork model, string method, int length, TokenSelectionOptions selection) => method switch
    {
        "ar" => new AutoregressiveSampler(model, new AutoregressiveSamplerOptions
        {
            Length = length, Selection = selection, Mode = AutoregressiveMode.OneTokenPerStepTiming,
        }),
        "ar_exact" => new AutoregressiveSampler(model, new AutoregressiveSamplerOptions { Length = length, Selection = selection }),
        "mdlm" => new MdlmSampler(model, new MdlmSamplerOptions { Length = length, Selection = selection, OneTokenPerStep = true }),
        "bd3_4" => new BlockDiffusionSampler(model, new BlockDiffusionSamplerOptions
        {
            Length = length, Selection = selection, BlockSize = 4, OneTokenPerStep = true,
        }),
        "bd3_16" => new BlockDiffusionSampler(model, new BlockDiffusionSamplerOptions
        {
            Length = length, Selection = selection, BlockSize = 16, OneTokenPerStep = true,
        }),
        "esolm_b" => new EsoLmSampler(model, new EsoLmSamplerOptions
        {
            Length = length, Selection = selection, AlphaEval = 1, FixedPlan = new StepPlan(Enumerable.Repeat(1, length).ToArray(), length),
        }),
        _ => throw new ArgumentOutOfRangeException(nameof(method), method, "Unknown method."),
    };

    private static SamplingRequest[] Requests(int batch) =>
        [.. Enumerable.Range(0, batch).Select(i => new SamplingRequest { Seed = 11, SequenceId = i })];

    private static SampleBenchmarkRow Measure(INetwork model, string method, int length, int batch, TokenSelectionOptions selection,
        int repeats, bool mdlmFull)
    {
        var sampler = Create(model, method, length, selection);
        var requests = Requests(batch);
        if (method != "mdlm" || mdlmFull)
        {
            var seconds = new double[repeats];
            SamplingResult? last = null;
            for (int r = 0; r < repeats; r++)
            {
                last = sampler.Generate(requests);
                seconds[r] = last.Elapsed.TotalSeconds / batch;
            }

            Array.Sort(seconds);
            return new SampleBenchmarkRow(method, length, batch, seconds[repeats / 2], last!.ForwardPasses, false, last.ForwardPasses,
                last.TokensProcessed / (double)last.ForwardPasses);
        }

        // MDLM at large L × batch: every pass feeds all L tokens of every sequence and decodes one position each, so each
        // of its L passes costs the same; time the first passes and scale to L.
        const int passes = 8;
        var perPass = new double[repeats];
        long tokens = 0;
        for (int r = 0; r < repeats; r++)
        {
            var e = sampler.GenerateStreamingAsync(requests).GetAsyncEnumerator();
            try
            {
                Next(e); // first pass (not timed: the enumerator's start)
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < passes; i++)
                {
                    Next(e);
                }

                perPass[r] = sw.Elapsed.TotalSeconds / passes;
                tokens = (long)length * batch;
            }
            finally
            {
                e.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }

        Array.Sort(perPass);
        return new SampleBenchmarkRow(method, length, batch, perPass[repeats / 2] * length / batch, length, true, passes, tokens);
    }

    private static void Next(IAsyncEnumerator<SamplingUpdate> e)
    {
        if (!e.MoveNextAsync().AsTask().GetAwaiter().GetResult())
        {
            throw new InvalidOperationException("The sampler finished before the timed passes.");
        }
    }

    /// <summary>
    /// Microseconds per row of token selection at V = 50258, by logits shape and filter: <c>plain_*</c> is the reference
    /// (full noise, full sort), <c>f64_*</c> the previous float64 fast path (now the fallback stage), <c>fast_*</c> what
    /// <see cref="TokenSelector.Select"/> runs (float32 stage first). All three run in this process, one after the other per case.
    /// </summary>
    internal static List<KeyValuePair<string, double>> MeasureSelection()
    {
        const int v = 50258;
        var rng = new Random(5);
        var flat = new float[v];
        var spread = new float[v];
        for (int i = 0; i < v; i++)
        {
            double n = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
            flat[i] = (float)(0.05 * n);
            spread[i] = (float)((3 * n) - 5);
        }

        var list = new List<KeyValuePair<string, double>>();
        (string Name, TokenSelectionOptions Options)[] cases =
        [
            ("gumbel", TokenSelectionOptions.Default), ("top_p_0.9", new TokenSelectionOptions { TopP = 0.9 }),
            ("top_k_50", new TokenSelectionOptions { TopK = 50 }), ("t0.7_top_p_0.95", new TokenSelectionOptions { Temperature = 0.7, TopP = 0.95 }),
        ];
        foreach (var (name, options) in cases)
        {
            var selector = new TokenSelector(v, v - 1, options);
            var fast = selector.Fast!;
            foreach (var (shape, logits) in new[] { ("flat", flat), ("spread", spread) })
            {
                list.Add(new($"plain_{name}_{shape}", Time(i => selector.SelectReference(logits, new DrawKey(1, 0, i, 0)))));
                list.Add(new($"f64_{name}_{shape}", Time(i => fast.SelectDouble(logits, new DrawKey(1, 0, i, 0)))));
                long decided = fast.FloatDecided, deferred = fast.FloatDeferred;
                list.Add(new($"fast_{name}_{shape}", Time(i => selector.Select(logits, new DrawKey(1, 0, i, 0)))));
                double rows = (fast.FloatDecided - decided) + (fast.FloatDeferred - deferred);
                list.Add(new($"float_share_{name}_{shape}", rows > 0 ? (fast.FloatDecided - decided) / rows : 0));
            }
        }

        return list;
    }

    private static double Time(Func<int, int> select)
    {
        int sink = 0;
        for (int i = 0; i < 5; i++)
        {
            sink ^= select(i);
        }

        var sw = Stopwatch.StartNew();
        int n = 0;
        while (sw.Elapsed.TotalSeconds < 0.3 || n < 5)
        {
            sink ^= select(n++);
        }

        GC.KeepAlive(sink);
        return sw.Elapsed.TotalMicroseconds / n;
    }

    /// <summary>Ratios per length at batch 1 (and per batch under <c>by_batch</c>).</summary>
    public static string ToJson(SampleBenchmarkResult result, string? loadAverage = null)
    {
        ArgumentNullException.ThrowIfNull(result);
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("model", "6 layers, hidden 384, 6 heads, vocab 50258 (random weights)");
            w.WriteNumber("threads", result.Threads);
            w.WriteNumber("top_p", result.TopP);
            w.WriteString("timed", "full sampling: forward passes + nucleus + Gumbel-max; seconds per sample = batch wall time / batch");
            if (loadAverage is not null)
            {
                w.WriteString("load_average", loadAverage);
            }

            w.WriteStartArray("rows");
            foreach (var r in result.Rows)
            {
                w.WriteStartObject();
                w.WriteString("method", r.Method);
                w.WriteString("weights", KernelBenchmark.WeightsName(r.Weights));
                w.WriteString("kv_cache", KernelBenchmark.WeightsName(r.KvCache));
                w.WriteNumber("length", r.Length);
                w.WriteNumber("batch", r.Batch);
                w.WriteNumber("seconds", Math.Round(r.Seconds, 4));
                if (r.CpuSeconds > 0)
                {
                    w.WriteNumber("cpu_seconds", Math.Round(r.CpuSeconds, 4));
                }

                if (r.AllocatedBytesPerPass >= 0)
                {
                    w.WriteNumber("allocated_bytes_per_pass", Math.Round(r.AllocatedBytesPerPass, 1));
                }

                if (r.Phases is not null)
                {
                    w.WriteStartObject("phase_seconds_per_sample");
                    foreach (var (name, value) in r.Phases)
                    {
                        w.WriteNumber(name, Math.Round(value, 5));
                    }

                    w.WriteEndObject();
                }

                w.WriteNumber("nfe", r.Nfe);
                w.WriteNumber("tokens_per_pass", Math.Round(r.TokensPerPass, 2));
                if (r.Extrapolated)
                {
                    w.WriteBoolean("extrapolated", true);
                    w.WriteNumber("measured_passes", r.MeasuredPasses);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteStartObject("ratios");
            foreach (var group in result.Rows.GroupBy(r => (r.Length, r.Batch, r.Weights, r.KvCache)))
            {
                double Get(string m) => group.FirstOrDefault(r => r.Method == m)?.Seconds ?? double.NaN;
                double eso = Get("esolm_b");
                string suffix = (group.Key.Weights == WeightFormat.Float32 ? "" : "_" + KernelBenchmark.WeightsName(group.Key.Weights))
                    + (group.Key.KvCache == WeightFormat.Float32 ? "" : "_kv_" + KernelBenchmark.WeightsName(group.Key.KvCache));
                w.WriteStartObject(string.Create(CultureInfo.InvariantCulture, $"L{group.Key.Length}_b{group.Key.Batch}{suffix}"));
                if (group.Key.Weights != WeightFormat.Float32 || group.Key.KvCache != WeightFormat.Float32)
                {
                    double fp32 = result.Rows.FirstOrDefault(r => r.Method == "esolm_b" && r.Length == group.Key.Length && r.Batch == group.Key.Batch
                        && r.Weights == WeightFormat.Float32 && r.KvCache == WeightFormat.Float32)?.Seconds ?? double.NaN;
                    WriteRatio(w, "esolm_fp32_over_this", fp32 / eso);
                }

                WriteRatio(w, "mdlm_over_esolm", Get("mdlm") / eso);
                WriteRatio(w, "bd3_4_over_esolm", Get("bd3_4") / eso);
                WriteRatio(w, "bd3_16_over_esolm", Get("bd3_16") / eso);
                WriteRatio(w, "esolm_over_ar", eso / Get("ar"));
                WriteRatio(w, "esolm_over_ar_exact", eso / Get("ar_exact"));
                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteStartObject("selection_us_per_row");
            foreach (var (name, value) in result.SelectionMicroseconds)
            {
                w.WriteNumber(name, Math.Round(value, name.StartsWith("float_share", StringComparison.Ordinal) ? 3 : 1));
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteRatio(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value))
        {
            w.WriteNumber(name, Math.Round(value, 3));
        }
    }
}

/// <summary>The <c>esolm bench sample</c> command (registered by one line in <c>BenchCommand.Create</c>).</summary>
internal static class SampleBenchmarkCommand
{
    /// <summary><c>esolm bench sample [--json] [--lengths 256,1024] [--batches 1,16] [--threads N] [--repeats K] [--methods …] [--mdlm-full]</c>.</summary>
    public static System.CommandLine.Command Create()
    {
        var json = Commands.BenchCommand.JsonOption();
        var threads = Commands.BenchCommand.ThreadsOption();
        var lengths = new System.CommandLine.Option<string>("--lengths") { Description = "Sequence lengths L, comma-separated.", DefaultValueFactory = _ => "256,1024" };
        var batches = new System.CommandLine.Option<string>("--batches") { Description = "Batch sizes, comma-separated.", DefaultValueFactory = _ => "1,16" };
        var repeats = new System.CommandLine.Option<int>("--repeats") { Description = "Timed repeats per configuration (median reported).", DefaultValueFactory = _ => 1 };
        var methods = new System.CommandLine.Option<string>("--methods") { Description = "Methods, comma-separated: " + string.Join(',', SampleBenchmark.Methods) + ".", DefaultValueFactory = _ => string.Join(',', SampleBenchmark.Methods) };
        var backend = Commands.BackendOption.Create();
        var weights = new System.CommandLine.Option<string>("--weights") { Description = "Weight formats, comma-separated: fp32, bf16, int8, int8a16 (each gets its own rows).", DefaultValueFactory = _ => "fp32" };
        var kvCache = new System.CommandLine.Option<string>("--kv-cache") { Description = "KV-cache formats, comma-separated: fp32 (exact), bf16 (each gets its own rows).", DefaultValueFactory = _ => "fp32" };
        var selectionOnly = new System.CommandLine.Option<bool>("--selection-only") { Description = "Only the token-selection micro-benchmark (selection_us_per_row; no model is built)." };
        var mdlmFull = new System.CommandLine.Option<bool>("--mdlm-full") { Description = "Time all L MDLM passes everywhere (default: only where L²·batch ≤ 256²; elsewhere 8 passes, extrapolated and marked so)." };
        var profile = new System.CommandLine.Option<bool>("--profile") { Description = "Also time each phase of the sampling step (CPU backend): phase_seconds_per_sample in the JSON rows." };
        var cmd = new System.CommandLine.Command("sample", "Table 3: seconds per sample at NFE = L for AR, MDLM, BD3-LM (L′ = 4, 16) and Eso-LM (B) on a random-weight GPT-2-vocabulary model.")
        {
            json, threads, lengths, batches, repeats, methods, mdlmFull, backend, weights, kvCache, profile, selectionOnly,
        };
        cmd.SetAction(pr =>
        {
            try
            {
                if (pr.GetValue(selectionOnly))
                {
                    string before = LoadAverage();
                    var only = new SampleBenchmarkResult(1, 0.9, [], SampleBenchmark.MeasureSelection());
                    Console.Out.WriteLine(SampleBenchmark.ToJson(only, $"{before} (start) / {LoadAverage()} (end)"));
                    return 0;
                }

                var ls = ParseList(pr.GetValue(lengths)!, "--lengths");
                var bs = ParseList(pr.GetValue(batches)!, "--batches");
                var ms = pr.GetValue(methods)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                var ws = pr.GetValue(weights)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(x => Commands.WeightsOption.Parse(x, "--weights")).ToArray();
                var kvs = pr.GetValue(kvCache)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(x => Commands.WeightsOption.ParseKvCache(x)).ToArray();
                string loadBefore = LoadAverage();
                var result = SampleBenchmark.Run(ls, bs, pr.GetValue(threads), pr.GetValue(repeats), pr.GetValue(mdlmFull), ms, line => Console.Error.WriteLine(line),
                    pr.GetValue(backend)!, ws, kvs, pr.GetValue(profile));
                string load = $"{loadBefore} (start) / {LoadAverage()} (end)";
                if (pr.GetValue(json))
                {
                    Console.Out.WriteLine(SampleBenchmark.ToJson(result, load));
                }
                else
                {
                    Console.Out.WriteLine($"threads {result.Threads}, top-p {result.TopP.ToString(CultureInfo.InvariantCulture)}, load average {load}");
                    foreach (var r in result.Rows)
                    {
                        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"{r.Method,-9} {KernelBenchmark.WeightsName(r.Weights),-4} kv {KernelBenchmark.WeightsName(r.KvCache),-4} L={r.Length,-5} batch={r.Batch,-3} {r.Seconds,9:F3} s/sample  NFE {r.Nfe}{(r.Extrapolated ? " (extrapolated)" : "")}"));
                    }
                }

                return 0;
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine("esolm: error: " + Program.ErrorLine(e));
                return 1;
            }
        });
        return cmd;
    }

    private static int[] ParseList(string text, string option)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var list = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out list[i]))
            {
                throw new ArgumentException($"{option}: '{parts[i]}' is not an integer (expected e.g. 256,1024).", option);
            }
        }

        return list;
    }

    private static string LoadAverage()
    {
        try
        {
            return File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";
        }
        catch (IOException)
        {
            return "n/a";
        }
    }
}
