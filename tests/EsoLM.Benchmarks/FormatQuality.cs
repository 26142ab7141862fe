using System.Globalization;
using EsoLM.Backends.Cpu;
using EsoLM.IO;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Tensors;

namespace EsoLM.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project tests/EsoLM.Benchmarks -- quality MODEL.safetensors [weights] [kv-cache]</c> (weights
/// fp32|bf16|int8|int8a16, default fp32; KV cache fp32|bf16, default bf16; <c>kvquality MODEL</c> is the bf16-cache check): a
/// weight and KV-cache format against the exact fp32 network on a trained model (the recipe of docs/results/summary.md
/// §8.4): logits of 8 rows × L positions of random order and clean count (variant B diffusion masks, every row fed at
/// once, so every query attends over the cached K/V), relative RMS and max abs difference and argmax agreement; then 64
/// Eso-LM samples (seed 7) with top-p 0.9 and with plain Gumbel-max: identical samples and identical tokens; and the
/// masked-token perplexity (the NELBO's diffusion term) of the fp32 model's own samples through the cached forward.
/// (<c>esolm eval</c>'s NELBO runs the training graph, which attends within each sequence without a KV cache, so it sees
/// the weight format but not the cache format.)
/// </summary>
internal static class FormatQuality
{
    public static void Run(string[] args)
    {
        var file = ModelFile.Load(args[1]);
        var parameters = file.Parameters;
        var config = parameters.Config;
        var exact = new CpuBackend(new ComputeContext(), WeightFormat.Float32, WeightFormat.Float32).Load(parameters);
        var weights = args.Length > 2 ? Parse(args[2]) : WeightFormat.Float32;
        var kv = args.Length > 3 ? Parse(args[3]) : WeightFormat.BFloat16;
        var half = new CpuBackend(new ComputeContext(), weights, kv).Load(parameters);
        string label = string.Create(CultureInfo.InvariantCulture, $"{Name(weights)} weights / {Name(kv)} KV cache");
        Console.WriteLine($"{label} against fp32 / fp32");
        int length = config.ContextLength, v = config.VocabSize;
        var rng = new Random(7);
        double diff = 0, norm = 0, maxAbs = 0;
        int agree = 0, total = 0;
        for (int row = 0; row < 8; row++)
        {
            int clean = rng.Next(length + 1);
            var order = Enumerable.Range(0, length).OrderBy(_ => rng.Next()).ToArray();
            var tokens = new int[length];
            for (int i = 0; i < length; i++)
            {
                tokens[i] = i < clean ? Token(rng, v, config.MaskTokenId) : config.MaskTokenId;
            }

            var ranges = new KeyRange[length];
            MaskRules.Diffusion(EsoLmVariant.B, length, clean, ranges);
            var a = Logits(exact, tokens, order, ranges);
            var b = Logits(half, tokens, order, ranges);
            for (int p = 0; p < length; p++)
            {
                int ia = 0, ib = 0;
                for (int t = 0; t < v; t++)
                {
                    double x = a[(p * v) + t], y = b[(p * v) + t];
                    diff += (x - y) * (x - y);
                    norm += x * x;
                    maxAbs = Math.Max(maxAbs, Math.Abs(x - y));
                    ia = a[(p * v) + t] > a[(p * v) + ia] ? t : ia;
                    ib = b[(p * v) + t] > b[(p * v) + ib] ? t : ib;
                }

                agree += ia == ib ? 1 : 0;
                total++;
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"logits: rel_rms {Math.Sqrt(diff / norm):E3}  max_abs {maxAbs:F4}  argmax_agreement {agree}/{total} ({100.0 * agree / total:F1} %)"));
        int[][]? data = null;
        foreach (var (name, selection) in new[] { ("top_p_0.9", new TokenSelectionOptions { TopP = 0.9 }), ("gumbel", TokenSelectionOptions.Default) })
        {
            SamplingRequest[] requests = [.. Enumerable.Range(0, 64).Select(i => new SamplingRequest { Seed = 7, SequenceId = i })];
            var sa = new EsoLmSampler(exact, new EsoLmSamplerOptions { Length = length, Selection = selection }).Generate(requests);
            data ??= [.. sa.Sequences.Select(s => s.Tokens).Where(t => t.Length == length)];
            var sb = new EsoLmSampler(half, new EsoLmSamplerOptions { Length = length, Selection = selection }).Generate(requests);
            int same = 0, sameTokens = 0, tokensTotal = 0;
            for (int i = 0; i < requests.Length; i++)
            {
                var x = sa.Sequences[i].Tokens;
                var y = sb.Sequences[i].Tokens;
                same += x.AsSpan().SequenceEqual(y) ? 1 : 0;
                for (int j = 0; j < Math.Min(x.Length, y.Length); j++)
                {
                    sameTokens += x[j] == y[j] ? 1 : 0;
                }

                tokensTotal += Math.Max(x.Length, y.Length);
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"samples {name}: identical {same}/{requests.Length} ({100.0 * same / requests.Length:F0} %), identical tokens {100.0 * sameTokens / tokensTotal:F1} %"));
        }

        // The diffusion term through the cached forward: −log p(x_i | clean tokens) of the masked positions of the fp32
        // model's own top-p samples (4 draws of order and clean count each, the same draws for both caches).
        var nll = new double[2];
        long masked = 0;
        var draw = new Random(11);
        foreach (var x in data!)
        {
            for (int k = 0; k < 4; k++)
            {
                int clean = draw.Next(length);
                var order = Enumerable.Range(0, length).OrderBy(_ => draw.Next()).ToArray();
                var tokens = new int[length];
                for (int i = 0; i < length; i++)
                {
                    tokens[i] = i < clean ? x[order[i]] : config.MaskTokenId;
                }

                var ranges = new KeyRange[length];
                MaskRules.Diffusion(EsoLmVariant.B, length, clean, ranges);
                for (int m = 0; m < 2; m++)
                {
                    var lp = Logits(m == 0 ? exact : half, tokens, order, ranges, Backends.ForwardOutput.LogProbabilities);
                    for (int i = clean; i < length; i++)
                    {
                        nll[m] -= lp[(i * v) + x[order[i]]];
                    }
                }

                masked += length - clean;
            }
        }

        double p32 = Math.Exp(nll[0] / masked), p16 = Math.Exp(nll[1] / masked);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"masked-token perplexity (diffusion term, {masked} tokens): fp32 / fp32 {p32:F4}, {label} {p16:F4} ({100 * ((p16 / p32) - 1):+0.000;-0.000} %)"));
    }

    private static WeightFormat Parse(string name) => name switch
    {
        "fp32" => WeightFormat.Float32,
        "bf16" => WeightFormat.BFloat16,
        "int8" => WeightFormat.Int8,
        "int8a16" => WeightFormat.Int8A16,
        _ => throw new ArgumentException($"'{name}' is not a format (fp32, bf16, int8 or int8a16).", nameof(name)),
    };

    private static string Name(WeightFormat format) => format switch
    {
        WeightFormat.BFloat16 => "bf16",
        WeightFormat.Int8 => "int8",
        WeightFormat.Int8A16 => "int8a16",
        _ => "fp32",
    };

    private static int Token(Random rng, int vocab, int mask)
    {
        int t;
        do
        {
            t = rng.Next(vocab);
        }
        while (t == mask);
        return t;
    }

    private static float[] Logits(Backends.INetwork model, int[] tokens, int[] positions, KeyRange[] ranges,
        Backends.ForwardOutput output = Backends.ForwardOutput.Logits)
    {
        int length = tokens.Length;
        var cache = model.CreateCache(length);
        var batch = new ForwardBatch();
        batch.Add(cache, 0, tokens, positions, ranges, 0, length);
        var logits = new float[length * model.Config.VocabSize];
        model.Forward(batch, model.CreateWorkspace(), output, logits);
        return logits;
    }
}
