#pragma warning disable CA2208 // Errors name the offending command-line option, not a method parameter.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using EsoLM.Caching;
using EsoLM.Diagnostics;
using EsoLM.Hosting;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Schedules;
using EsoLM.Tensors;
using EsoLM.Text;
using EsoLM.Training;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Cli.Commands;

/// <summary>
/// <c>esolm sample --model FILE</c>: generates text with Eso-LM (A/B), MDLM, BD3-LM or AR. The committed left-to-right
/// prefix of every sample streams to stdout as it grows (one line per sample, printed as its text grows; with
/// <c>--json</c> nothing streams and one JSON line is printed at the end). Errors go to stderr with exit code 1.
/// Masks that differ from the ones the model was trained with (<see cref="EsoLmModel.Training"/>: another variant, or
/// the MDLM/BD3 samplers on an Eso-LM) are refused unless <c>--allow-variant-mismatch</c> (then a warning is printed).
/// </summary>
internal static class SampleCommand
{
    /// <summary>Largest <c>--steps</c> (the library's <see cref="SamplerOptions.MaxSteps"/>).</summary>
    public const int MaxSteps = SamplerOptions.MaxSteps;

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model file (esolm train --out).", Required = true };
        var sampler = new Option<string?>("--sampler") { Description = "A registered sampler: esolm, mdlm, bd3 or ar (default: mdlm for an MDLM baseline model, else esolm)." };
        var variant = new Option<string?>("--variant") { Description = "Eso-LM variant A or B (default: the model's training variant, else B); shorthand for --mask-policy esolm-a|esolm-b." };
        var maskPolicy = new Option<string?>("--mask-policy") { Description = "A registered attention-mask policy: esolm-a, esolm-b or mdlm (default: the model's training policy, else esolm-b)." };
        var schedule = new Option<string?>("--schedule") { Description = "A registered noise schedule: log-linear or cosine (default: the model's training schedule, else log-linear)." };
        var allowMismatch = new Option<bool>("--allow-variant-mismatch") { Description = "Sample with masks other than the model's training masks: another variant, or mdlm/bd3 on an Eso-LM (warns)." };
        var alpha = new Option<double?>("--alpha0") { Description = "α_eval in [0,1]: expected fraction decoded by diffusion (default: the training α0, else 1)." };
        var steps = new Option<int?>("--steps") { Description = "Diffusion steps T (Eso-LM planner budget, MDLM steps, BD3 steps per block); default: tokens to generate / block size." };
        var block = new Option<int>("--block") { Description = "BD3 block size L′.", DefaultValueFactory = _ => 16 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus mass in (0,1]; 1 = off.", DefaultValueFactory = _ => 1.0 };
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens; 0 = off.", DefaultValueFactory = _ => 0 };
        var temperature = new Option<double>("--temperature") { Description = "Softmax temperature (> 0; use --greedy for deterministic decoding).", DefaultValueFactory = _ => 1.0 };
        var greedy = new Option<bool>("--greedy") { Description = "Argmax decoding (no noise)." };
        var seed = new Option<ulong>("--seed") { Description = "Seed.", DefaultValueFactory = _ => 1UL };
        var count = new Option<int>("--count") { Description = "Samples to generate (one batch).", DefaultValueFactory = _ => 1 };
        var length = new Option<int?>("--length") { Description = "Sequence length incl. the prompt (default: the model context)." };
        var prompt = new Option<string?>("--prompt") { Description = "Prompt text (tokenized with the model's tokenizer)." };
        var threads = BenchCommand.ThreadsOption();
        var json = BenchCommand.JsonOption();
        var backend = BackendOption.Create();
        var weights = WeightsOption.Create();
        var kvCache = WeightsOption.CreateKvCache();
        var cmd = new Command("sample", "Generate text from a model (streams the committed prefix).")
        {
            model, sampler, variant, maskPolicy, schedule, allowMismatch, alpha, steps, block, topP, topK, temperature, greedy, seed, count, length, prompt, threads, json, backend, weights,
            kvCache,
        };
        cmd.SetAction(pr =>
        {
            var settings = new Settings(pr.GetValue(model)!, pr.GetValue(sampler), pr.GetValue(variant), pr.GetValue(allowMismatch), pr.GetValue(alpha),
                pr.GetValue(steps), pr.GetValue(block), pr.GetValue(topP), pr.GetValue(topK), pr.GetValue(temperature), pr.GetValue(greedy),
                pr.GetValue(seed), pr.GetValue(count), pr.GetValue(length), pr.GetValue(prompt), pr.GetValue(threads), pr.GetValue(json),
                pr.GetValue(backend)!)
            {
                Weights = pr.GetValue(weights)!, KvCache = pr.GetValue(kvCache)!, MaskPolicy = pr.GetValue(maskPolicy), Schedule = pr.GetValue(schedule),
            };
            return Run(settings);
        });
        return cmd;
    }

    internal sealed record Settings(string Model, string? Sampler, string? Variant, bool AllowVariantMismatch, double? Alpha, int? Steps, int Block,
        double TopP, int TopK, double Temperature, bool Greedy, ulong Seed, int Count, int? Length, string? Prompt, int Threads, bool Json, string Backend = "cpu")
    {
        /// <summary>Weight storage: fp32, bf16, int8 or int8a16 (<c>--weights</c>).</summary>
        public string Weights { get; init; } = "fp32";

        /// <summary>KV-cache storage: fp32 or bf16 (<c>--kv-cache</c>).</summary>
        public string KvCache { get; init; } = "fp32";

        /// <summary>Key of a registered mask policy (<c>--mask-policy</c>); null = from <c>--variant</c> or the model.</summary>
        public string? MaskPolicy { get; init; }

        /// <summary>Key of a registered noise schedule (<c>--schedule</c>); null: the model's training schedule, else log-linear.</summary>
        public string? Schedule { get; init; }
    }

    private static int Run(Settings s)
    {
        if (!(s.Temperature > 0) || double.IsPositiveInfinity(s.Temperature))
        {
            throw new ArgumentOutOfRangeException("--temperature", s.Temperature,
                $"--temperature must be a finite number > 0 (got {s.Temperature.ToString(CultureInfo.InvariantCulture)}); for deterministic decoding use --greedy.");
        }

        if (!(s.TopP > 0 && s.TopP <= 1))
        {
            throw new ArgumentOutOfRangeException("--top-p", s.TopP, $"--top-p must be in (0, 1] (got {s.TopP.ToString(CultureInfo.InvariantCulture)}); 1 turns it off.");
        }

        if (s.TopK < 0)
        {
            throw new ArgumentOutOfRangeException("--top-k", s.TopK, $"--top-k must be ≥ 0 (got {s.TopK}); 0 turns it off.");
        }

        if (s.Steps is int st && (st < 1 || st > MaxSteps))
        {
            throw new ArgumentOutOfRangeException("--steps", st, $"--steps must be in [1, {MaxSteps}] (got {st}).");
        }

        var requested = s.Sampler?.ToLowerInvariant();
        var requestedFactory = requested is null ? null : CliRegistry.Resolve<ISamplerFactory>("--sampler", requested);
        if (s.Variant is not null && s.MaskPolicy is not null)
        {
            throw new ArgumentException("--variant and --mask-policy both choose the masks; give one of them.", "--mask-policy");
        }

        // Resolved early so a bad name fails before the model is read; the default waits for the model's description.
        var chosenSchedule = s.Schedule is null ? null : CliRegistry.Resolve<INoiseSchedule>("--schedule", s.Schedule);
        var chosenPolicy = s.MaskPolicy is null ? null : CliRegistry.Resolve<IAttentionMaskPolicy>("--mask-policy", s.MaskPolicy);

        if (s.Greedy && (s.Temperature != 1.0 || s.TopK != 0 || s.TopP != 1.0))
        {
            throw new ArgumentException("--greedy ignores --temperature, --top-k and --top-p; leave them at their defaults (1, 0, 1) or drop --greedy.", "--greedy");
        }

        if (requestedFactory is { Capabilities.UsesAlphaEval: false } && s.Alpha is double alphaOther && alphaOther != 1)
        {
            throw new ArgumentException($"--alpha0 is not used by the sampler '{requested}' (its capabilities say it ignores α_eval); drop it.", "--alpha0");
        }


        if (s.Alpha is double a && !(a >= 0 && a <= 1))
        {
            throw new ArgumentOutOfRangeException("--alpha0", a, $"--alpha0 (α_eval) must be in [0, 1] (got {a.ToString(CultureInfo.InvariantCulture)}).");
        }

        if (s.Count < 1 || s.Count > 4096)
        {
            throw new ArgumentOutOfRangeException("--count", s.Count, $"--count must be in [1, 4096] (got {s.Count}).");
        }

        if (s.Block < 1)
        {
            throw new ArgumentOutOfRangeException("--block", s.Block, $"--block must be ≥ 1 (got {s.Block}).");
        }

        CliFiles.RequireFile(s.Model, "--model", "Model file");

        var loaded = EsoLmModel.Load(s.Model, BackendOption.Resolve(s.Backend, s.Threads, Tensors.SimdLevel.Auto, WeightsOption.Parse(s.Weights),
            WeightsOption.ParseKvCache(s.KvCache)));
        var config = loaded.Config;
        if ((uint)config.MaskTokenId >= (uint)config.VocabSize)
        {
            throw new InvalidDataException($"The model's mask id {config.MaskTokenId} is outside its vocabulary [0, {config.VocabSize}).");
        }

        var tokenizer = loaded.Tokenizer;
        var trained = loaded.Training;
        var schedule = chosenSchedule ?? CliRegistry.TrainingScheduleOrDefault(trained?.ScheduleName);
        var samplerName = (s.Sampler ?? (trained?.Variant == EsoLmVariant.Mdlm ? "mdlm" : "esolm")).ToLowerInvariant();
        var factory = requestedFactory ?? CliRegistry.Resolve<ISamplerFactory>("--sampler", samplerName);
        var variant = s.Variant is null ? trained?.Variant is EsoLmVariant.A ? EsoLmVariant.A : EsoLmVariant.B : TrainCommand.ParseVariant(s.Variant);
        var policy = chosenPolicy
            ?? (s.Variant is null && trained is not null && CliRegistry.Strategies.GetKeys<IAttentionMaskPolicy>().Contains(trained.MaskPolicy, StringComparer.Ordinal)
                ? CliRegistry.Strategies.GetStrategy<IAttentionMaskPolicy>(trained.MaskPolicy)
                : EsoLmMaskPolicy.Of(variant));
        if (trained?.Variant == EsoLmVariant.Mdlm && s.Variant is null && chosenPolicy is null && factory.Capabilities.RequiresSequentialMode)
        {
            policy = EsoLmMaskPolicy.B; // the masks this sampler would run on an MDLM model; the mismatch check below refuses or warns
        }

        string masks = SettingsRules.MasksOf(factory, policy);
        if (trained is not null && !trained.IsTrainedWith(masks))
        {
            if (!s.AllowVariantMismatch)
            {
                throw new ArgumentException(
                    $"The model was trained as {trained} (masks '{trained.MaskPolicy}') but --sampler {samplerName}" +
                    (s.Variant is null ? string.Empty : $" --variant {variant}") + $" would sample it with the '{masks}' masks, which differ from training. " +
                    (trained.Variant == EsoLmVariant.Mdlm ? "Use --sampler mdlm" : $"Use --sampler esolm --variant {trained.Variant}") +
                    ", or add --allow-variant-mismatch to run it anyway.", s.Variant is null ? "--sampler" : "--variant");
            }

            Console.Error.WriteLine($"esolm: warning: sampling a model trained with '{trained.MaskPolicy}' masks with '{masks}' masks (--allow-variant-mismatch).");
        }

        int[] promptIds = s.Prompt is null ? [] : tokenizer.Encode(s.Prompt);
        int length = s.Length ?? config.ContextLength;
        if (length < 1 || length > config.ContextLength)
        {
            throw new ArgumentOutOfRangeException("--length", length, $"--length must be in [1, {config.ContextLength}] (the model context).");
        }

        if (promptIds.Length > length)
        {
            throw new ArgumentException(
                $"The prompt is {promptIds.Length} tokens long, longer than the sequence length {length} (model context {config.ContextLength}); shorten it or raise --length.",
                "--prompt");
        }

        foreach (int id in promptIds)
        {
            if ((uint)id >= (uint)config.VocabSize || id == config.MaskTokenId)
            {
                throw new InvalidDataException($"The tokenizer produced id {id}, which the model cannot take (vocabulary {config.VocabSize}, mask {config.MaskTokenId}).");
            }
        }

        MemoryBudget.Require(MemoryBudget.SamplingBytes(config, s.Count, length), "--count", s.Count,
            $"Sampling {s.Count} sequence(s) of {length} tokens at once");
        var net = loaded.Transformer;
        var selection = new TokenSelectionOptions { Greedy = s.Greedy, Temperature = s.Temperature, TopK = s.TopK, TopP = s.TopP };
        int? eos = loaded.EosTokenId;
        TokenDecoder decoder = ids => tokenizer.Decode(ids);
        var errors = new List<string>();
        // --steps is shared by every sampler on the command line (ignored where it means nothing, as --block is), so only
        // α_eval (checked above) and the policy are held to the sampler's capabilities here.
        SettingsRules.Check(samplerName, factory, explicitSteps: null, s.Alpha, s.MaskPolicy ?? policy.Name, policy, errors);
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), "--sampler");
        }

        // Resolved by key through the same registry and factories as AddEsoLm(), like the generator does.
        ISampler sampler = factory.Create(net, new GenerationSettings
        {
            Length = length,
            Steps = s.Steps,
            AlphaEval = s.Alpha ?? trained?.Alpha0 ?? 1.0,
            BlockSize = s.Block,
            Selection = selection,
            EosTokenId = eos,
            Schedule = schedule,
            MaskPolicy = policy,
            KvCache = DenseKvCacheFactory.Instance,
            Decoder = decoder,
        });

        var requests = new SamplingRequest[s.Count];
        for (int i = 0; i < s.Count; i++)
        {
            requests[i] = new SamplingRequest { Seed = s.Seed, SequenceId = i, Prompt = promptIds.Length > 0 ? promptIds : null };
        }

        var sw = Stopwatch.StartNew();
        SamplingResult? result = null;
        var stream = new TextStream();
        var enumerator = sampler.GenerateStreamingAsync(requests).GetAsyncEnumerator();
        try
        {
            while (enumerator.MoveNextAsync().AsTask().GetAwaiter().GetResult())
            {
                var update = enumerator.Current;
                if (!s.Json)
                {
                    foreach (var prefix in update.Prefixes)
                    {
                        StreamText(prefix, s.Count, stream);
                    }
                }

                result = update.Result ?? result;
            }
        }
        finally
        {
            enumerator.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }

        double seconds = sw.Elapsed.TotalSeconds;
        if (result is null)
        {
            throw new InvalidOperationException("The sampler produced no result.");
        }

        long generated = result.Sequences.Sum(q => (long)q.Tokens.Length) - ((long)promptIds.Length * s.Count);
        double tokensPerSecond = seconds > 0 ? generated / seconds : 0;
        if (s.Json)
        {
            Console.Out.WriteLine(ToJson(result, tokenizer, sampler.Name, seconds, tokensPerSecond));
        }
        else
        {
            if (s.Count == 1)
            {
                Console.Out.WriteLine();
            }

            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{sampler.Name}: {s.Count} sample(s), NFE {result.ForwardPasses}, {seconds:F2} s, {tokensPerSecond:F1} tokens/s"));
        }

        Console.Out.Flush();
        return 0;
    }

    /// <summary>
    /// One sample streams its text in place (appending what was not printed yet of the committed prefix's text, holding
    /// back a trailing U+FFFD that may be an incomplete multi-byte character); several samples print one line each as
    /// they finish (interleaving growing prefixes of several sequences on one console would be unreadable).
    /// </summary>
    private static void StreamText(PrefixUpdate prefix, int count, TextStream stream)
    {
        if (count == 1)
        {
            var text = prefix.Text ?? string.Empty;
            int safe = text.Length;
            if (!prefix.Finished)
            {
                while (safe > 0 && text[safe - 1] == '\uFFFD')
                {
                    safe--;
                }
            }

            if (safe > stream.Printed.Length && text.AsSpan(0, stream.Printed.Length).SequenceEqual(stream.Printed))
            {
                Console.Out.Write(text.AsSpan(stream.Printed.Length, safe - stream.Printed.Length));
                Console.Out.Flush();
                stream.Printed = text[..safe];
            }
        }
        else if (prefix.Finished)
        {
            Console.Out.WriteLine($"[{prefix.RequestIndex}] {OneLine(prefix.Text ?? string.Empty)}");
            Console.Out.Flush();
        }
    }

    /// <summary>What the stream of one sample has printed so far.</summary>
    private sealed class TextStream
    {
        public string Printed { get; set; } = string.Empty;
    }

    private static string OneLine(string text) => text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string ToJson(SamplingResult result, Tokenizer tokenizer, string name, double seconds, double tokensPerSecond)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("sampler", name);
            w.WriteStartArray("samples");
            foreach (var q in result.Sequences)
            {
                w.WriteStringValue(tokenizer.Decode(q.Tokens));
            }

            w.WriteEndArray();
            w.WriteNumber("nfe", result.ForwardPasses);
            w.WriteNumber("tokens_per_second", Math.Round(tokensPerSecond, 2));
            w.WriteNumber("seconds", Math.Round(seconds, 4));
            w.WriteStartArray("ended_with_eos");
            foreach (var q in result.Sequences)
            {
                w.WriteBooleanValue(q.EndedWithEos);
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
