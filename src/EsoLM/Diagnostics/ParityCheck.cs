using EsoLM.Backends;
using EsoLM.Backends.Cpu;
using System.Text.Json;
using EsoLM.IO;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;

namespace EsoLM.Diagnostics;

/// <summary>One compared case of a parity run.</summary>
/// <param name="Name">File and case, e.g. <c>diffusion_B/sampled</c> or <c>kv_sampling_B/greedy/step3</c>.</param>
/// <param name="Values">Number of values compared.</param>
/// <param name="MaxAbsDiff">Largest absolute difference.</param>
/// <param name="Passed">Whether the difference is within tolerance and every token choice matched.</param>
/// <param name="Detail">What failed, when something did.</param>
internal sealed record ParityCase(string Name, long Values, double MaxAbsDiff, bool Passed, string? Detail = null);

/// <summary>The outcome of <see cref="ParityCheck.Run"/>.</summary>
/// <param name="Cases">Every compared case.</param>
/// <param name="Tolerance">The absolute tolerance used.</param>
internal sealed record ParityReport(IReadOnlyList<ParityCase> Cases, double Tolerance)
{
    /// <summary>The largest difference over all cases.</summary>
    public double MaxAbsDiff => Cases.Count == 0 ? 0 : Cases.Max(c => c.MaxAbsDiff);

    /// <summary>True when there was at least one case and all passed.</summary>
    public bool Passed => Cases.Count > 0 && Cases.All(c => c.Passed);
}

/// <summary>
/// Compares this implementation with reference vectors in the golden-folder format (<c>config.json</c>,
/// <c>weights.safetensors</c>, and any of <c>diffusion_{A,B}.json</c>, <c>sequential_{A,B}.json</c>,
/// <c>kv_sampling_B.json</c>, <c>intermediates_B.json</c>): logits in diffusion and sequential modes for both variants,
/// and the cached sampling trace step by step (logits against the reference's cached and full forwards, token choices).
/// Users run it (<c>esolm check-parity</c>) to validate a converted checkpoint.
/// </summary>
internal static class ParityCheck
{
    /// <summary>Runs every comparison the folder has files for, on <paramref name="backend"/> (default: the CPU backend).</summary>
    public static ParityReport Run(string folder, double tolerance = 1e-4, IComputeBackend? backend = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tolerance);
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"Golden folder '{folder}' does not exist.");
        }

        var config = ModelConfig.FromReferenceJson(File.ReadAllText(Path.Combine(folder, "config.json")));
        var parameters = ReferenceImport.LoadSafetensors(Path.Combine(folder, "weights.safetensors"), config);
        var model = (backend ?? CpuBackend.Default).Load(parameters);
        var cases = new List<ParityCase>();
        foreach (var variant in new[] { EsoLmVariant.A, EsoLmVariant.B })
        {
            Modes(folder, $"diffusion_{variant}", model, variant, sequential: false, tolerance, cases);
            Modes(folder, $"sequential_{variant}", model, variant, sequential: true, tolerance, cases);
        }

        Intermediates(folder, model, tolerance, cases);
        KvTrace(folder, model, tolerance, cases);
        return new ParityReport(cases, tolerance);
    }

    private static void Modes(string folder, string file, INetwork model, EsoLmVariant variant, bool sequential, double tol,
        List<ParityCase> cases)
    {
        var path = Path.Combine(folder, file + ".json");
        if (!File.Exists(path))
        {
            return;
        }

        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        int v = model.Config.VocabSize;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var name = $"{file}/{c.GetProperty("name").GetString()}";
            var sortIdx = ReferenceTensor.Get(c, "sort_idx");
            int batch = sortIdx.Shape[0], length = sortIdx.Shape[1];
            var positions = sortIdx.ToInt32s();
            var numClean = ReferenceTensor.Get(c, "num_clean").ToInt32s();
            var expected = ReferenceTensor.Get(c, "logits_raw").Values;
            var logits = new float[batch * length * v];
            var session = new ModelSession(model, batch, sequential ? 2 * length : length);
            if (sequential)
            {
                session.Sequential(variant, batch, length, ReferenceTensor.Get(c, "z0_sorted").ToInt32s(),
                    ReferenceTensor.Get(c, "x0_sorted").ToInt32s(), positions, numClean, logits);
            }
            else
            {
                session.Diffusion(variant, batch, length, ReferenceTensor.Get(c, "zt_sorted").ToInt32s(), positions, numClean, logits);
            }

            cases.Add(Compare(name + "/logits", logits, expected, tol));

            // Zero-masked log-probs (skip the mask column: it sits near −1e6 where float spacing is 0.0625).
            var logProbs = ReferenceTensor.Get(c, "log_probs").Values;
            var lp = ZeroMaskedLogSoftmax(logits, v, model.Config.MaskTokenId);
            for (int i = model.Config.MaskTokenId; i < lp.Length; i += v)
            {
                lp[i] = (float)logProbs[i];
            }

            cases.Add(Compare(name + "/log_probs", lp, logProbs, tol));
        }
    }

    private static void Intermediates(string folder, INetwork network, double tol, List<ParityCase> cases)
    {
        // The conditioning vector is an internal of the CPU network; other backends are checked through their outputs.
        var path = Path.Combine(folder, "intermediates_B.json");
        if (!File.Exists(path) || network is not DiffusionTransformer model)
        {
            return;
        }

        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var c = ReferenceTensor.Get(doc.RootElement, "c").Values;
        cases.Add(Compare("intermediates_B/conditioning", model.Conditioning.ToArray(), c, tol));
    }

    private static void KvTrace(string folder, INetwork model, double tol, List<ParityCase> cases)
    {
        var path = Path.Combine(folder, "kv_sampling_B.json");
        if (!File.Exists(path))
        {
            return;
        }

        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        int v = model.Config.VocabSize, maskId = model.Config.MaskTokenId;
        foreach (var trace in doc.RootElement.EnumerateObject())
        {
            if (trace.Value.ValueKind != JsonValueKind.Object || !trace.Value.TryGetProperty("steps", out var steps))
            {
                continue;
            }

            int batch = trace.Value.GetProperty("batch").GetInt32();
            var order = ReferenceTensor.Get(trace.Value, "order");
            int length = order.Shape[1];
            var finalSorted = ReferenceTensor.Get(trace.Value, "final_sorted").ToInt32s();
            var orderIds = order.ToInt32s();
            bool gumbel = trace.Value.GetProperty("choice").GetString()!.StartsWith("gumbel", StringComparison.Ordinal);
            var cached = new ModelSession(model, batch, length);
            var full = new ModelSession(model, batch, length);
            double worst = 0;
            long values = 0;
            var failures = new List<string>();
            foreach (var step in steps.EnumerateArray())
            {
                int index = step.GetProperty("step").GetInt32();
                int a = step.GetProperty("last_k_start").GetInt32();
                int s = step.GetProperty("curr_k_start").GetInt32();
                int e = step.GetProperty("curr_k_end").GetInt32();
                int k = e - s, window = e - a;
                var fed = ReferenceTensor.Get(step, "fed_tokens").ToInt32s();
                var fedPos = ReferenceTensor.Get(step, "fed_positions").ToInt32s();
                var logits = new float[batch * k * v];
                cached.CachedStep(batch, a, window, fed, fedPos, s - a, logits);
                var expected = ReferenceTensor.Get(step, "logits").Values;
                var cmp = Compare($"kv_sampling_B/{trace.Name}/step{index}", logits, expected, tol);
                worst = Math.Max(worst, cmp.MaxAbsDiff);
                values += cmp.Values;
                if (!cmp.Passed)
                {
                    failures.Add(cmp.Detail!);
                }

                // The same rows from an uncached full diffusion-mode forward (slots >= s masked) must agree too.
                var tokens = new int[batch * length];
                for (int b = 0; b < batch; b++)
                {
                    for (int i = 0; i < length; i++)
                    {
                        tokens[(b * length) + i] = i < s ? finalSorted[(b * length) + i] : maskId;
                    }
                }

                var fullLogits = new float[batch * length * v];
                full.Diffusion(EsoLmVariant.B, batch, length, tokens, orderIds, new int[batch], fullLogits);
                var fullRows = new float[batch * k * v];
                for (int b = 0; b < batch; b++)
                {
                    fullLogits.AsSpan(((b * length) + s) * v, k * v).CopyTo(fullRows.AsSpan(b * k * v));
                }

                var cmpFull = Compare("full", fullRows, ReferenceTensor.Get(step, "full_forward_logits").Values, tol);
                worst = Math.Max(worst, cmpFull.MaxAbsDiff);
                values += cmpFull.Values;
                if (!cmpFull.Passed)
                {
                    failures.Add($"step {index} full forward: {cmpFull.Detail}");
                }

                // One-token steps: row s of the 2L sequential-mode forward (z masked from slot s on, x = the final tokens).
                if (step.TryGetProperty("sequential_mode_logits", out var seqElement))
                {
                    var seqLogits = new float[batch * length * v];
                    var seqSession = new ModelSession(model, batch, 2 * length);
                    seqSession.Sequential(EsoLmVariant.B, batch, length, tokens, finalSorted, orderIds, new int[batch], seqLogits);
                    var seqRows = new float[batch * v];
                    for (int b = 0; b < batch; b++)
                    {
                        seqLogits.AsSpan(((b * length) + s) * v, v).CopyTo(seqRows.AsSpan(b * v));
                    }

                    var cmpSeq = Compare("sequential", seqRows, ReferenceTensor.Parse(seqElement, "sequential_mode_logits").Values, tol);
                    worst = Math.Max(worst, cmpSeq.MaxAbsDiff);
                    values += cmpSeq.Values;
                    if (!cmpSeq.Passed)
                    {
                        failures.Add($"step {index} sequential mode: {cmpSeq.Detail}");
                    }
                }

                // Token choices: argmax of the zero-masked logits (+ the recorded float64 Gumbel noise).
                var chosen = ReferenceTensor.Get(step, "chosen").ToInt32s();
                double[]? noise = gumbel ? ReferenceTensor.Get(step, "gumbel_noise").Values : null;
                for (int row = 0; row < batch * k; row++)
                {
                    int best = -1;
                    double bestScore = double.NegativeInfinity;
                    for (int t = 0; t < v; t++)
                    {
                        double score = (t == maskId ? -1e6 : logits[(row * v) + t]) + (noise?[(row * v) + t] ?? 0);
                        if (score > bestScore)
                        {
                            bestScore = score;
                            best = t;
                        }
                    }

                    if (best != chosen[row])
                    {
                        failures.Add($"step {index} row {row}: chose {best}, reference chose {chosen[row]}");
                    }
                }
            }

            cases.Add(new ParityCase($"kv_sampling_B/{trace.Name}", values, worst, failures.Count == 0,
                failures.Count == 0 ? null : string.Join("; ", failures.Take(5))));
        }
    }

    private static float[] ZeroMaskedLogSoftmax(float[] logits, int v, int maskId)
    {
        var lp = (float[])logits.Clone();
        for (int r = 0; r < lp.Length / v; r++)
        {
            var row = lp.AsSpan(r * v, v);
            row[maskId] = -1e6f;
            Activations.LogSoftmaxInPlace(row);
        }

        return lp;
    }

    private static ParityCase Compare(string name, ReadOnlySpan<float> actual, double[] expected, double tol)
    {
        if (actual.Length != expected.Length)
        {
            return new ParityCase(name, 0, double.PositiveInfinity, false,
                $"{name}: produced {actual.Length} values, reference has {expected.Length}");
        }

        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs(actual[i] - expected[i]);
            if (!(diff <= worst))
            {
                worst = diff;
                at = i;
            }
        }

        bool ok = worst <= tol;
        return new ParityCase(name, expected.Length, worst, ok,
            ok ? null : $"{name}: max |diff| {worst:G3} at flat index {at} (ours {actual[at]}, reference {expected[at]}) exceeds {tol:G3}");
    }
}
