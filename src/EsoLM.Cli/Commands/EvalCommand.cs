#pragma warning disable CA2208 // Errors name the offending command-line option, not a method parameter.
using EsoLM.Backends;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EsoLM.Caching;
using EsoLM.Evaluation;
using EsoLM.Hosting;
using EsoLM.IO;
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
/// <c>esolm eval</c>: likelihood (NELBO and importance-weighted "exact" perplexity) of a model on a corpus, and the quality
/// of its samples (unigram entropy, validity on the built-in language, generative perplexity under an AR scorer model).
/// </summary>
internal static class EvalCommand
{
    /// <summary>
    /// Seed of the built-in evaluation corpus: different from training's default seed (1), so <c>builtin:grammar</c> here
    /// is held-out text from the same language.
    /// </summary>
    public const ulong DefaultCorpusSeed = 1_000_003;

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The model file to evaluate (written by esolm train).", Required = true };
        var corpus = new Option<string[]>("--corpus")
        {
            Description = $"builtin:grammar (held-out text, seed --corpus-seed, default {DefaultCorpusSeed}) or text files.",
            DefaultValueFactory = _ => [CorpusSource.BuiltIn], AllowMultipleArgumentsPerToken = true,
        };
        var corpusSeed = new Option<ulong>("--corpus-seed") { Description = "Seed of the built-in evaluation corpus (training's default is 1).", DefaultValueFactory = _ => DefaultCorpusSeed };
        var documents = new Option<int>("--documents") { Description = "Documents generated for builtin:grammar.", DefaultValueFactory = _ => 200 };
        var rows = new Option<int>("--rows") { Description = "Evaluate at most this many rows of the corpus (0: all).", DefaultValueFactory = _ => 0 };
        var scorer = new Option<string?>("--scorer") { Description = "An AR model file (trained with --alpha0 0) that scores the samples (generative perplexity)." };
        var orders = new Option<int>("--orders") { Description = "K orders of the importance-weighted exact perplexity (0: skip it).", DefaultValueFactory = _ => 4 };
        var samples = new Option<int>("--samples") { Description = "Samples to generate for entropy / validity / gen PPL (0: skip).", DefaultValueFactory = _ => 16 };
        var sampler = new Option<string?>("--sampler") { Description = "A registered sampler: esolm (the model's masks), mdlm, bd3 or ar. Default: mdlm for MDLM models, else esolm." };
        var steps = new Option<int?>("--steps") { Description = "T: sampler steps (default: L)." };
        var alphaEval = new Option<double?>("--alpha-eval") { Description = "α_eval of the Eso-LM sampler (default: the model's training α0)." };
        var topP = new Option<double>("--top-p") { Description = "Nucleus mass of the sampler (1: off; the paper's samples use 0.9).", DefaultValueFactory = _ => 1.0 };
        var baseline = new Option<string[]?>("--baseline-corpus")
        {
            Description = "Also report the unigram baseline: token frequencies of this corpus's training split (builtin:grammar: seed --train-seed, --train-documents; 5% validation as in esolm train).",
            AllowMultipleArgumentsPerToken = true,
        };
        var trainSeed = new Option<ulong>("--train-seed") { Description = "Seed of the built-in baseline corpus (esolm train's --seed).", DefaultValueFactory = _ => 1UL };
        var trainDocuments = new Option<int>("--train-documents") { Description = "Documents of the built-in baseline corpus (esolm train's --documents).", DefaultValueFactory = _ => 4000 };
        var alpha0 = new Option<double?>("--alpha0") { Description = "Override the training α0 (for model files without esolm.objective metadata)." };
        var variant = new Option<string?>("--variant") { Description = "Override the training variant A|B|MDLM (for model files without metadata)." };
        var allowMismatch = new Option<bool>("--allow-variant-mismatch") { Description = "Allow --sampler mdlm on an Eso-LM (masks other than the training masks; warns)." };
        var noNelbo = new Option<bool>("--no-nelbo") { Description = "Skip the NELBO perplexity (e.g. when only sampling)." };
        var batch = new Option<int>("--batch") { Description = "Rows per forward pass.", DefaultValueFactory = _ => 16 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the NELBO draws, the orders and the samples.", DefaultValueFactory = _ => 1UL };
        var threads = BenchCommand.ThreadsOption();
        var json = BenchCommand.JsonOption();
        var backend = BackendOption.Create();
        var weights = WeightsOption.Create();
        var cmd = new Command("eval", "Evaluate a model: NELBO and exact perplexity, sample entropy, validity and generative perplexity.")
        {
            model, corpus, corpusSeed, documents, rows, scorer, orders, samples, sampler, steps, alphaEval, topP, baseline, trainSeed, trainDocuments,
            alpha0, variant, allowMismatch, noNelbo, batch, seed, threads, json, backend, weights,
        };
        cmd.SetAction(pr =>
        {
            var settings = new EvalSettings(pr.GetValue(model)!, pr.GetValue(corpus)!, pr.GetValue(corpusSeed), pr.GetValue(documents), pr.GetValue(rows),
                pr.GetValue(scorer), pr.GetValue(orders), pr.GetValue(samples), pr.GetValue(sampler), pr.GetValue(steps), pr.GetValue(alphaEval),
                pr.GetValue(topP), pr.GetValue(baseline), pr.GetValue(trainSeed), pr.GetValue(trainDocuments), pr.GetValue(alpha0), pr.GetValue(variant),
                pr.GetValue(batch), pr.GetValue(seed), pr.GetValue(threads), pr.GetValue(backend)!) { SkipNelbo = pr.GetValue(noNelbo), Weights = WeightsOption.Parse(pr.GetValue(weights)), AllowVariantMismatch = pr.GetValue(allowMismatch) };
            var report = Run(settings, Console.Error);
            Console.Out.WriteLine(pr.GetValue(json) ? report.ToJson() : report.ToText());
            return 0;
        });
        return cmd;
    }

    /// <summary>Runs the evaluation (progress lines go to <paramref name="log"/>).</summary>
    internal static EvalReport Run(EvalSettings s, TextWriter log)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(s.Orders, "--orders");
        ArgumentOutOfRangeException.ThrowIfNegative(s.Samples, "--samples");
        ArgumentOutOfRangeException.ThrowIfNegative(s.Rows, "--rows");
        ArgumentOutOfRangeException.ThrowIfLessThan(s.Batch, 1, "--batch");
        ValidateUpFront(s);
        var total = Stopwatch.StartNew();
        CliFiles.RequireFile(s.Model, "--model", "Model file");
        var file = ModelFile.Load(s.Model);
        var tok = file.CreateTokenizer();
        var objective = Objective(file, s.Alpha0, s.Variant, s.Model);
        var backend = BackendOption.Resolve(s.Backend, s.Threads, Tensors.SimdLevel.Auto, s.Weights);
        var net = backend.Load(file.Parameters);
        int length = file.Config.ContextLength;

        // The evaluation rows: the corpus, tokenized with the model's tokenizer, wrapped and cut into rows of L.
        var docs = CorpusSource.Documents(s.Corpus, s.CorpusSeed, s.Documents);
        var evalTokens = new List<int>();
        foreach (var d in docs)
        {
            evalTokens.AddRange(tok.Encode(d));
            if (TokenizerVocabulary.Of(tok).EndOfTextId is int eos)
            {
                evalTokens.Add(eos);
            }
        }

        int available = evalTokens.Count / length;
        if (available < 1)
        {
            throw new ArgumentException(
                $"The evaluation corpus has {evalTokens.Count} tokens, fewer than one row of L = {length} (the model's context): use more text" +
                (s.Corpus.Contains(CorpusSource.BuiltIn) ? " (--documents)." : "."));
        }

        int rowCount = s.Rows > 0 ? Math.Min(s.Rows, available) : available;
        var flat = evalTokens.ToArray();
        ReadOnlyMemory<int> Row(int i) => flat.AsMemory(i * length, length);
        var report = new EvalReport { Model = s.Model, Rows = rowCount, Length = length, Alpha0 = objective.Alpha0, Variant = objective.Variant.ToString() };

        // Reference values of real text for the sample metrics: the evaluation rows are windows of the packed stream, as samples are.
        var dataRows = Enumerable.Range(0, rowCount).Select(i => (IReadOnlyList<int>)flat.AsSpan(i * length, length).ToArray()).ToList();
        report.DataEntropy = SampleMetrics.MeanUnigramEntropy(dataRows);
        if (IsBuiltInLanguage(s))
        {
            report.DataValidity = SampleMetrics.Validity(dataRows, tok).ValidityRate;
        }

        var sw = Stopwatch.StartNew();
        if (!s.SkipNelbo)
        {
            var nelbo = NelboEvaluator.Evaluate(net, objective, rowCount, length, Row, s.Batch, s.Seed);
            report.NelboPpl = nelbo.Perplexity;
            report.NelboSeconds = sw.Elapsed.TotalSeconds;
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"NELBO perplexity {nelbo.Perplexity:F4} ({rowCount} rows, {sw.Elapsed.TotalSeconds:F1} s)"));
        }

        if (s.Orders > 0)
        {
            sw.Restart();
            var exact = ExactLikelihoodEvaluator.Evaluate(net, objective.EffectiveMaskPolicy, objective.Alpha0, rowCount, length, Row, s.Orders, s.Batch, s.Seed);
            report.ExactPpl = exact.Perplexity;
            report.Orders = s.Orders;
            report.ExactSeconds = sw.Elapsed.TotalSeconds;
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"exact (IW, K = {s.Orders}) perplexity {exact.Perplexity:F4} ({sw.Elapsed.TotalSeconds:F1} s)"));
        }

        if (s.BaselineCorpus is { Count: > 0 } baseline)
        {
            var bdocs = CorpusSource.Documents(baseline, s.TrainSeed, s.TrainDocuments);
            var data = TokenDataset.FromDocuments(bdocs, tok, length, 0.05);
            var train = new int[data.TrainRows * length];
            for (int i = 0; i < data.TrainRows; i++)
            {
                data.TrainRow(i).CopyTo(train.AsSpan(i * length));
            }

            var validation = new int[data.ValidationRows * length];
            for (int i = 0; i < data.ValidationRows; i++)
            {
                data.ValidationRow(i).CopyTo(validation.AsSpan(i * length));
            }

            report.UnigramPpl = SampleMetrics.UnigramPerplexity(train, flat.AsSpan(0, rowCount * length), file.Config.VocabSize);
            if (validation.Length > 0)
            {
                report.UnigramValidationPpl = SampleMetrics.UnigramPerplexity(train, validation, file.Config.VocabSize);
            }
        }

        if (s.Samples > 0)
        {
            Sample(s, file, tok, net, objective, report, log);
        }

        report.Seconds = total.Elapsed.TotalSeconds;
        return report;
    }

    /// <summary>Every setting that only the later passes use is checked here, before the NELBO and exact passes run.</summary>
    private static void ValidateUpFront(EvalSettings s)
    {
        if (!(s.TopP > 0 && s.TopP <= 1))
        {
            throw new ArgumentOutOfRangeException("--top-p", s.TopP, $"--top-p must be in (0, 1] (got {s.TopP.ToString(CultureInfo.InvariantCulture)}); 1 turns it off.");
        }

        if (s.Steps is int steps && (steps < 1 || steps > SampleCommand.MaxSteps))
        {
            throw new ArgumentOutOfRangeException("--steps", steps, $"--steps must be in [1, {SampleCommand.MaxSteps}] (got {steps}).");
        }

        if (s.AlphaEval is double a && !(a >= 0 && a <= 1))
        {
            throw new ArgumentOutOfRangeException("--alpha-eval", a, $"--alpha-eval must be in [0, 1] (got {a.ToString(CultureInfo.InvariantCulture)}).");
        }

        if (s.Sampler is { } name)
        {
            CliRegistry.Resolve<ISamplerFactory>("--sampler", name.ToLowerInvariant());
        }

        if (s.Scorer is not null)
        {
            CliFiles.RequireFile(s.Scorer, "--scorer", "Scorer model file");
            var header = ModelFile.Inspect(s.Scorer);
            if (TrainingDescription.FromMetadata(header.Metadata) is { Alpha0: not 0 } scorerTraining)
            {
                throw new ArgumentException($"The scorer '{s.Scorer}' was trained with α0 = {scorerTraining.Alpha0.ToString(CultureInfo.InvariantCulture)}; " +
                    "generative perplexity needs an autoregressive scorer (trained with --alpha0 0).", "--scorer");
            }
        }
    }

    private static void Sample(EvalSettings s, ModelFileContents file, Tokenizer tok, INetwork net, ObjectiveOptions objective, EvalReport report,
        TextWriter log)
    {
        int length = file.Config.ContextLength;
        string samplerName = (s.Sampler ?? (objective.Variant == EsoLmVariant.Mdlm ? "mdlm" : "esolm")).ToLowerInvariant();
        var selection = TokenSelectionOptions.Default with { TopP = s.TopP };
        // Resolved by key through the AddEsoLm() registry; what the sampler uses and needs comes from its capabilities.
        var factory = CliRegistry.Resolve<ISamplerFactory>("--sampler", samplerName);
        var caps = factory.Capabilities;
        var policy = objective.EffectiveMaskPolicy;
        if (caps.RequiresSequentialMode && objective.Variant == EsoLmVariant.Mdlm)
        {
            throw new ArgumentException(
                $"This model is the bidirectional MDLM baseline: sample it with --sampler mdlm (the '{samplerName}' sampler decodes left to right and needs a variant A or B model).");
        }

        if (!caps.UsesAlphaEval && s.AlphaEval is double a && a != 1)
        {
            throw new ArgumentException($"--alpha-eval {a.ToString(CultureInfo.InvariantCulture)} does not apply to --sampler {samplerName} (it does not use α_eval).");
        }

        string masks = SettingsRules.MasksOf(factory, policy);
        if (!string.Equals(masks, policy.Name, StringComparison.OrdinalIgnoreCase))
        {
            if (!s.AllowVariantMismatch)
            {
                throw new ArgumentException(
                    $"This model was trained with the '{policy.Name}' masks; the '{samplerName}' sampler's '{masks}' attention differs from training. " +
                    "Use --sampler esolm, or add --allow-variant-mismatch to run it anyway.");
            }

            log.WriteLine($"warning: sampling a model trained with '{policy.Name}' masks with the '{masks}' masks of the '{samplerName}' sampler; its attention differs from training.");
        }

        double? alphaEval = caps.UsesAlphaEval ? s.AlphaEval ?? objective.Alpha0 : 1;
        var sampler = factory.Create(net, new GenerationSettings
        {
            Length = length,
            Steps = s.Steps,
            AlphaEval = alphaEval ?? 1,
            Selection = selection,
            // The schedule the model was trained with (the objective read from the file), as training used it.
            Schedule = objective.Schedule,
            MaskPolicy = policy,
            KvCache = DenseKvCacheFactory.Instance,
        });

        var requests = Enumerable.Range(0, s.Samples).Select(i => new SamplingRequest { SequenceId = i, Seed = s.Seed }).ToList();
        var sw = Stopwatch.StartNew();
        var result = sampler.Generate(requests);
        report.SampleSeconds = sw.Elapsed.TotalSeconds;
        var generated = result.Sequences.Select(q => (IReadOnlyList<int>)q.Tokens).ToList();
        report.Sampler = sampler.Name;
        report.Samples = generated.Count;
        report.Steps = s.Steps ?? length;
        report.AlphaEval = alphaEval;
        report.Nfe = result.Sequences.Average(q => (double)q.ForwardPasses);
        report.Entropy = SampleMetrics.MeanUnigramEntropy(generated);
        if (IsBuiltInLanguage(s))
        {
            report.Validity = SampleMetrics.Validity(generated, tok).ValidityRate;
        }

        report.Example = tok.Decode(generated[0] is int[] arr ? arr : generated[0].ToArray());
        string validity = report.Validity is double v ? string.Create(CultureInfo.InvariantCulture, $", validity {v:F3}") : string.Empty;
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{generated.Count} samples ({sampler.Name}, NFE {report.Nfe:F1}, {report.SampleSeconds:F1} s): entropy {report.Entropy:F3}{validity}"));

        if (s.Scorer is not null)
        {
            var scorerFile = ModelFile.Load(s.Scorer);
            if (scorerFile.ReadTraining() is { Alpha0: not 0 } scorerTraining)
            {
                throw new ArgumentException($"The scorer '{s.Scorer}' was trained with α0 = {scorerTraining.Alpha0.ToString(CultureInfo.InvariantCulture)}; " +
                    "generative perplexity needs an autoregressive scorer (trained with --alpha0 0).");
            }

            var scorerTok = scorerFile.CreateTokenizer();
            var scorerNet = net.Backend.Load(scorerFile.Parameters);
            var gen = new GenerativePerplexityScorer(scorerNet, scorerTok).Score(generated, tok);
            report.GenPpl = gen.Perplexity;
            report.GenTokens = gen.Tokens;
            report.Retokenized = gen.Retokenized;
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"generative perplexity {gen.Perplexity:F3} ({gen.Tokens} tokens{(gen.Retokenized ? ", re-tokenized" : string.Empty)})"));
        }
    }

    /// <summary>
    /// Validity is reported when the model is evaluated on the built-in language, whatever its tokenizer: samples are
    /// decoded to text and the text is recognized (<see cref="SampleMetrics.Validity"/>).
    /// </summary>
    private static bool IsBuiltInLanguage(EvalSettings s) => s.Corpus.Count > 0 && s.Corpus.All(c => c == CorpusSource.BuiltIn);

    private static ObjectiveOptions Objective(ModelFileContents file, double? alpha0, string? variant, string path)
    {
        ObjectiveOptions o;
        if (file.ReadTraining() is { } trained)
        {
            o = trained.Objective ?? throw new ArgumentException(
                $"'{path}' was trained with the noise schedule '{trained.ScheduleName}', which this command does not know (built-ins: log-linear, cosine).");
        }
        else if (alpha0 is null)
        {
            throw new ArgumentException($"'{path}' has no {TrainingDescription.MetadataKey} metadata (not written by esolm train): pass --alpha0 (and --variant).");
        }
        else
        {
            o = new ObjectiveOptions { Alpha0 = alpha0.Value };
        }

        if (alpha0 is double a)
        {
            o = o with { Alpha0 = a, BatchSplit = null };
        }

        if (variant is not null)
        {
            o = o with { Variant = TrainCommand.ParseVariant(variant) };
        }

        o.Validate();
        return o;
    }

    internal sealed record EvalSettings(string Model, IReadOnlyList<string> Corpus, ulong CorpusSeed, int Documents, int Rows, string? Scorer, int Orders,
        int Samples, string? Sampler, int? Steps, double? AlphaEval, double TopP, IReadOnlyList<string>? BaselineCorpus, ulong TrainSeed, int TrainDocuments,
        double? Alpha0, string? Variant, int Batch, ulong Seed, int Threads, string Backend = "cpu")
    {
        /// <summary>Settings with the command's defaults.</summary>
        public static EvalSettings Defaults(string model) => new(model, [CorpusSource.BuiltIn], DefaultCorpusSeed, 200, 0, null, 4, 16, null, null, null, 1.0,
            null, 1UL, 4000, null, null, 16, 1UL, -1);

        /// <summary>Skip the NELBO perplexity.</summary>
        public bool SkipNelbo { get; init; }

        /// <summary>Storage of the evaluated model's packed weights (fp32 unless --weights says otherwise).</summary>
        public Tensors.WeightFormat Weights { get; init; } = Tensors.WeightFormat.Float32;

        /// <summary>Allow a sampler whose masks differ from training (MDLM on an Eso-LM).</summary>
        public bool AllowVariantMismatch { get; init; }
    }

    internal sealed class EvalReport
    {
        public string Model { get; set; } = "";

        public int Rows { get; set; }

        public int Length { get; set; }

        public double Alpha0 { get; set; }

        public string Variant { get; set; } = "";

        public double? NelboPpl { get; set; }

        public double NelboSeconds { get; set; }

        public double? ExactPpl { get; set; }

        public int Orders { get; set; }

        public double ExactSeconds { get; set; }

        public double? UnigramPpl { get; set; }

        public double DataEntropy { get; set; }

        public double? DataValidity { get; set; }

        public double? UnigramValidationPpl { get; set; }

        public string? Sampler { get; set; }

        public int Samples { get; set; }

        public int Steps { get; set; }

        public double? AlphaEval { get; set; }

        public double? Nfe { get; set; }

        public double? Entropy { get; set; }

        public double? Validity { get; set; }

        public double? GenPpl { get; set; }

        public long GenTokens { get; set; }

        public bool Retokenized { get; set; }

        public double SampleSeconds { get; set; }

        public string? Example { get; set; }

        public double Seconds { get; set; }

        public string ToJson()
        {
            using var stream = new MemoryStream();
            using (var w = new Utf8JsonWriter(stream))
            {
                w.WriteStartObject();
                w.WriteString("model", Model);
                w.WriteNumber("alpha0", Alpha0);
                w.WriteString("variant", Variant);
                w.WriteNumber("rows", Rows);
                w.WriteNumber("length", Length);
                Nullable(w, "nelbo_ppl", NelboPpl);
                Nullable(w, "exact_ppl", ExactPpl);
                w.WriteNumber("orders", Orders);
                Nullable(w, "unigram_ppl", UnigramPpl);
                Nullable(w, "unigram_validation_ppl", UnigramValidationPpl);
                w.WriteNumber("data_entropy", DataEntropy);
                Nullable(w, "data_validity", DataValidity);
                if (Sampler is not null)
                {
                    w.WriteString("sampler", Sampler);
                    w.WriteNumber("samples", Samples);
                    w.WriteNumber("steps", Steps);
                    Nullable(w, "alpha_eval", AlphaEval);
                    Nullable(w, "nfe", Nfe);
                    Nullable(w, "entropy", Entropy);
                    Nullable(w, "validity", Validity);
                    Nullable(w, "gen_ppl", GenPpl);
                    if (GenPpl is not null)
                    {
                        w.WriteNumber("gen_tokens", GenTokens);
                        w.WriteBoolean("retokenized", Retokenized);
                    }

                    w.WriteNumber("sample_seconds", SampleSeconds);
                    if (Example is not null)
                    {
                        w.WriteString("example", Example);
                    }
                }

                w.WriteNumber("nelbo_seconds", NelboSeconds);
                w.WriteNumber("exact_seconds", ExactSeconds);
                w.WriteNumber("seconds", Seconds);
                w.WriteEndObject();
            }

            return System.Text.Encoding.UTF8.GetString(stream.ToArray());
        }

        public string ToText()
        {
            var sb = new System.Text.StringBuilder();
            sb.Append(CultureInfo.InvariantCulture, $"{Model}: NELBO perplexity {NelboPpl:F4}");
            if (ExactPpl is double e)
            {
                sb.Append(CultureInfo.InvariantCulture, $", exact perplexity {e:F4} (K = {Orders})");
            }

            if (UnigramPpl is double u)
            {
                sb.Append(CultureInfo.InvariantCulture, $", unigram baseline {u:F4}");
            }

            if (Sampler is not null)
            {
                sb.Append(CultureInfo.InvariantCulture, $"; {Samples} samples ({Sampler}, NFE {Nfe:F1}): entropy {Entropy:F3}");
                if (Validity is double v)
                {
                    sb.Append(CultureInfo.InvariantCulture, $", validity {v:F3}");
                }

                if (GenPpl is double g)
                {
                    sb.Append(CultureInfo.InvariantCulture, $", gen PPL {g:F3}");
                }
            }

            sb.Append(CultureInfo.InvariantCulture, $" ({Seconds:F1} s)");
            if (Example is not null)
            {
                sb.AppendLine().Append("example: ").Append(Example.Replace("\n", "⏎", StringComparison.Ordinal));
            }

            return sb.ToString();
        }

        private static void Nullable(Utf8JsonWriter w, string name, double? value)
        {
            if (value is double v)
            {
                w.WriteNumber(name, v);
            }
            else
            {
                w.WriteNull(name);
            }
        }
    }
}
