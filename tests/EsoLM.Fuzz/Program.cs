using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EsoLM.Hosting;
using EsoLM.IO;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Text;
using FsCheck;
using FsCheck.Fluent;

namespace EsoLM.Fuzz;

/// <summary>
/// Seeded fuzzers of the inputs a user controls: model files (bit flips, truncations, header and metadata edits),
/// tokenizer descriptions, and <c>esolm</c> command lines (generated with FsCheck). Every case must end in a documented
/// exception type (or, for the CLI, exit code 0 or one <c>esolm: error:</c> line with exit code 1). Prints one JSON
/// summary line: cases, failures, examples of failures, seconds, the slowest case.
/// Usage: <c>EsoLM.Fuzz model-files|tokenizers|cli SEED CASES WORKDIR</c>.
/// </summary>
public static class Program
{
    /// <summary>A case slower than this counts as a failure (a hang detector, far above the normal milliseconds).</summary>
    private const double CaseLimitSeconds = 20;

    public static int Main(string[] args)
    {
        if (args.Length != 4)
        {
            Console.Error.WriteLine("usage: EsoLM.Fuzz model-files|tokenizers|cli SEED CASES WORKDIR");
            return 2;
        }

        int seed = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
        int cases = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
        string work = args[3];
        Directory.CreateDirectory(work);
        var summary = new Summary(args[0]);
        var total = Stopwatch.StartNew();
        switch (args[0])
        {
            case "model-files":
                ModelFiles(seed, cases, work, summary);
                break;
            case "tokenizers":
                Tokenizers(seed, cases, work, summary);
                break;
            case "cli":
                CommandLines(seed, cases, work, summary);
                break;
            case "soak":
                Soak.Run(seed, cases, summary.Fail, summary.Extra);
                summary.Cases += cases;
                break;
            default:
                Console.Error.WriteLine($"unknown fuzzer '{args[0]}'");
                return 2;
        }

        summary.Seconds = total.Elapsed.TotalSeconds;
        Console.Out.WriteLine(summary.ToJson());
        return 0;
    }

    /// <summary>The exception types the library documents for bad input.</summary>
    private static bool Documented(Exception e) =>
        e is ArgumentException or InvalidDataException or IOException or JsonException or UnauthorizedAccessException;

    private static void RunCase(Summary summary, string label, Action action)
    {
        var sw = Stopwatch.StartNew();
        try
        {
            action();
        }
        catch (Exception e) when (Documented(e))
        {
        }
        catch (Exception e)
        {
            summary.Fail($"{label}: {e.GetType().Name}: {e.Message}");
        }

        summary.Case(sw.Elapsed.TotalSeconds, label, CaseLimitSeconds);
    }

    // ---------------------------------------------------------------- model files

    private static void ModelFiles(int seed, int cases, string work, Summary summary)
    {
        var rng = new Random(seed);
        var seeds = new List<byte[]>();
        foreach (var (tokenizer, vocab) in new (Microsoft.ML.Tokenizers.Tokenizer, int)[]
                 {
                     (new ByteTokenizer(), 258), (CharTokenizer.FromCorpus("abcdefgh ."), 0), (WordTokenizer.FromCorpus("the cat sat on the mat", withUnknownToken: true), 0),
                 })
        {
            int v = vocab > 0 ? vocab : TokenizerVocabulary.Of(tokenizer).Size + 1;
            var config = new ModelConfig
            {
                VocabSize = v, MaskTokenId = v - 1, HiddenSize = 16, Heads = 2, Layers = 2, CondDim = 8, MlpRatio = 2, ContextLength = 16,
                FrequencyEmbeddingSize = 8,
            };
            var path = Path.Combine(work, "seed.safetensors");
            ModelFile.Save(path, ModelParameters.CreateRandom(config, 1, 0.2f), tokenizer.Describe(),
                new Dictionary<string, string> { ["esolm.objective"] = "{\"alpha0\":0.5,\"variant\":\"B\"}" });
            seeds.Add(File.ReadAllBytes(path));
        }

        var target = Path.Combine(work, "case.safetensors");
        for (int i = 0; i < cases; i++)
        {
            var original = seeds[i % seeds.Count];
            string kind;
            byte[] bytes;
            switch (rng.Next(6))
            {
                case 0:
                    (kind, bytes) = ("bit flips", FlipBits(original, rng, headerBias: true));
                    break;
                case 1:
                    (kind, bytes) = ("truncation", original.AsSpan(0, rng.Next(original.Length)).ToArray());
                    break;
                case 2:
                    (kind, bytes) = ("header length", HeaderLength(original, rng));
                    break;
                case 3:
                    (kind, bytes) = ("header edit", EditHeader(original, rng, metadataOnly: false));
                    break;
                case 4:
                    (kind, bytes) = ("metadata edit", EditHeader(original, rng, metadataOnly: true));
                    break;
                default:
                    (kind, bytes) = ("bit flips anywhere", FlipBits(original, rng, headerBias: false));
                    break;
            }

            File.WriteAllBytes(target, bytes);
            RunCase(summary, $"model file #{i} ({kind})", () =>
            {
                var contents = ModelFile.Load(target);
                if (contents.Tokenizer is null)
                {
                    return; // CreateTokenizer is documented to throw InvalidOperationException here
                }

                var tokenizer = contents.CreateTokenizer();
                var model = new EsoLmModel(new EsoLM.Backends.Cpu.CpuBackend(new ComputeContext(1)).Load(contents.Parameters), tokenizer);
                _ = model.Tokenizer.Decode([0]);
            });
        }
    }

    private static byte[] FlipBits(byte[] original, Random rng, bool headerBias)
    {
        var bytes = (byte[])original.Clone();
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        int flips = 1 + rng.Next(8);
        for (int f = 0; f < flips; f++)
        {
            int limit = headerBias ? (int)Math.Min(bytes.Length, 8 + headerLength) : bytes.Length;
            int at = rng.Next(limit);
            bytes[at] ^= (byte)(1 << rng.Next(8));
        }

        return bytes;
    }

    private static byte[] HeaderLength(byte[] original, Random rng)
    {
        var bytes = (byte[])original.Clone();
        ulong[] values = [0, 1, 7, 8, ulong.MaxValue, long.MaxValue, (ulong)original.Length, (ulong)original.Length - 8, 100_000_001, (ulong)rng.NextInt64()];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, values[rng.Next(values.Length)]);
        return bytes;
    }

    private static readonly object[] Extremes =
    [
        0, -1, 1, 2, 3, 7, 1_000_000, 30_000_000, int.MaxValue, int.MinValue, 100_000, 1 << 16, (1 << 16) + 1, 4097, 1e300, -0.0, 0.5, "x", "",
        true,
    ];

    private static byte[] EditHeader(byte[] original, Random rng, bool metadataOnly)
    {
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(original);
        var header = JsonNode.Parse(original.AsSpan(8, (int)headerLength))!.AsObject();
        var meta = header["__metadata__"]!.AsObject();
        int edits = 1 + rng.Next(3);
        for (int e = 0; e < edits; e++)
        {
            if (metadataOnly || rng.Next(2) == 0)
            {
                try
                {
                    EditMetadata(meta, rng);
                }
                catch (Exception x) when (x is JsonException or InvalidOperationException or ArgumentException or KeyNotFoundException)
                {
                    // An earlier edit of this case already broke that entry (or removed it): leave it so.
                }
            }
            else
            {
                EditTensorEntry(header, rng);
            }
        }

        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int payload = (int)(original.Length - 8 - headerLength);
        var bytes = new byte[8 + json.Length + payload];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        original.AsSpan(8 + (int)headerLength).CopyTo(bytes.AsSpan(8 + json.Length));
        return bytes;
    }

    private static void EditMetadata(JsonObject meta, Random rng)
    {
        switch (rng.Next(5))
        {
            case 0:
            {
                // A config field set to an extreme value (the config bomb).
                var config = JsonNode.Parse((string)meta[ModelFile.ConfigKey]!)!.AsObject();
                var fields = config.Select(kv => kv.Key).ToArray();
                config[fields[rng.Next(fields.Length)]] = JsonValue.Create(Extremes[rng.Next(Extremes.Length)]) ?? JsonValue.Create(0);
                meta[ModelFile.ConfigKey] = config.ToJsonString();
                break;
            }

            case 1:
            {
                var tok = JsonNode.Parse((string)meta[ModelFile.TokenizerKey]!)!.AsObject();
                string[] kinds = ["byte", "char", "word", "gpt2-bpe", "gpt2", "nope", ""];
                if (rng.Next(2) == 0)
                {
                    tok["kind"] = kinds[rng.Next(kinds.Length)];
                }
                else
                {
                    tok["payload"] = MutateText((string?)tok["payload"] ?? string.Empty, rng);
                }

                meta[ModelFile.TokenizerKey] = tok.ToJsonString();
                break;
            }

            case 2:
            {
                var keys = meta.Select(kv => kv.Key).ToArray();
                meta.Remove(keys[rng.Next(keys.Length)]);
                break;
            }

            case 3:
            {
                var keys = meta.Select(kv => kv.Key).ToArray();
                var key = keys[rng.Next(keys.Length)];
                meta[key] = MutateText((string?)meta[key] ?? string.Empty, rng);
                break;
            }

            default:
                meta["esolm.format_version"] = rng.Next(3).ToString(System.Globalization.CultureInfo.InvariantCulture);
                break;
        }
    }

    private static void EditTensorEntry(JsonObject header, Random rng)
    {
        var names = header.Where(kv => kv.Key != "__metadata__").Select(kv => kv.Key).ToArray();
        var name = names[rng.Next(names.Length)];
        var entry = header[name]!.AsObject();
        switch (rng.Next(6))
        {
            case 0:
                entry["dtype"] = new[] { "F16", "BF16", "F64", "I32", "U8", "XYZ", "" }[rng.Next(7)];
                break;
            case 1:
            {
                var shape = entry["shape"]!.AsArray();
                if (shape.Count > 0)
                {
                    shape[rng.Next(shape.Count)] = JsonValue.Create(new long[] { 0, -1, 1, 2, int.MaxValue, 1L << 40 }[rng.Next(6)]);
                }
                else
                {
                    shape.Add(3);
                }

                break;
            }

            case 2:
            {
                var offsets = entry["data_offsets"]!.AsArray();
                offsets[rng.Next(2)] = JsonValue.Create(new long[] { 0, -1, 4, 1L << 40, (long)(offsets[1]!.GetValue<long>() + 4) }[rng.Next(5)]);
                break;
            }

            case 3:
                header.Remove(name);
                break;
            case 4:
                header[name + (rng.Next(2) == 0 ? "" : "x")] = JsonNode.Parse(entry.ToJsonString());
                header["blocks.99." + name] = JsonNode.Parse(entry.ToJsonString());
                break;
            default:
                entry["shape"] = new JsonArray();
                break;
        }
    }

    private static string MutateText(string text, Random rng)
    {
        if (text.Length == 0)
        {
            return rng.Next(2) == 0 ? "{" : "[]";
        }

        var sb = new StringBuilder(text);
        switch (rng.Next(4))
        {
            case 0:
                sb.Length = rng.Next(text.Length);
                break;
            case 1:
                const string Noise = "{}[]\",:0123456789ax\\\u00e9\uFFFD";
                sb[rng.Next(sb.Length)] = Noise[rng.Next(Noise.Length)];
                break;
            case 2:
                sb.Insert(rng.Next(sb.Length), "\"x\":" + rng.Next(int.MaxValue) + ",");
                break;
            default:
                sb.Replace("1", "99999999");
                break;
        }

        return sb.ToString();
    }

    // ---------------------------------------------------------------- tokenizer descriptions

    private static void Tokenizers(int seed, int cases, string work, Summary summary)
    {
        var rng = new Random(seed);
        var gpt2 = Path.Combine(work, "gpt2");
        Directory.CreateDirectory(gpt2);
        WriteTinyGpt2(gpt2);
        var seeds = new[]
        {
            new ByteTokenizer().Describe(),
            CharTokenizer.FromCorpus("hello world, é 😀").Describe(),
            WordTokenizer.FromCorpus("the cat sat on the mat; the dog", withUnknownToken: true).Describe(),
            WordTokenizer.FromCorpus("a b c").Describe(),
            TokenizerFactory.FromSpec("gpt2:" + gpt2).Describe(),
            TokenizerFactory.FromSpec("gpt2:" + gpt2, allowSpecial: true).Describe(),
            TokenizerFactory.FromSpec("tiktoken:gpt2").Describe(),
        };
        string[] kinds = [.. seeds.Select(s => s.Kind).Distinct(), "nope", ""];
        for (int i = 0; i < cases; i++)
        {
            var original = seeds[i % seeds.Length];
            var kind = rng.Next(10) == 0 ? kinds[rng.Next(kinds.Length)] : original.Kind;
            var payload = original.Payload;
            int edits = 1 + rng.Next(3);
            for (int e = 0; e < edits; e++)
            {
                payload = MutateText(payload, rng);
            }

            var description = new TokenizerDescription(kind, payload);
            RunCase(summary, $"tokenizer #{i} ({kind})", () =>
            {
                var tokenizer = TokenizerFactory.FromDescription(description);
                var ids = tokenizer.Encode("hello the cat <|endoftext|> é 😀");
                var size = TokenizerVocabulary.Of(tokenizer).Size;
                foreach (var id in ids)
                {
                    if ((uint)id >= (uint)size)
                    {
                        throw new InvalidOperationException($"Encode produced id {id} outside the vocabulary {size}.");
                    }
                }

                _ = tokenizer.Decode(ids);
                _ = tokenizer.Decode([size - 1, 0]);
            });
        }
    }

    private static void WriteTinyGpt2(string dir)
    {
        var chars = new char[256];
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            chars[b] = b is >= 33 and <= 126 or >= 161 and <= 172 or >= 174 and <= 255 ? (char)b : (char)(256 + n++);
        }

        var encoder = new JsonObject();
        int id = 0;
        foreach (var c in chars)
        {
            encoder[c.ToString()] = id++;
        }

        encoder["th"] = id++;
        encoder["the"] = id++;
        encoder["<|endoftext|>"] = id;
        File.WriteAllText(Path.Combine(dir, "encoder.json"), encoder.ToJsonString());
        File.WriteAllText(Path.Combine(dir, "vocab.bpe"), "#version: 0.2\nt h\nth e\n");
    }

    // ---------------------------------------------------------------- command lines

    private static void CommandLines(int seed, int cases, string work, Summary summary)
    {
        var model = Path.Combine(work, "m.safetensors");
        var config = new ModelConfig
        {
            VocabSize = 258, MaskTokenId = 257, HiddenSize = 16, Heads = 2, Layers = 1, CondDim = 8, MlpRatio = 2, ContextLength = 16, FrequencyEmbeddingSize = 8,
        };
        ModelFile.Save(model, ModelParameters.CreateRandom(config, 1, 0.2f), new ByteTokenizer().Describe(),
            new Dictionary<string, string> { ["esolm.objective"] = EsoLM.Training.Checkpoint.Describe(new EsoLM.Training.ObjectiveOptions { Alpha0 = 0.5 }) });
        var text = Path.Combine(work, "t.txt");
        File.WriteAllText(text, "hello world, the cat sat on the mat. " + string.Concat(Enumerable.Repeat("more text here. ", 40)));
        var folder = Directory.CreateDirectory(Path.Combine(work, "folder")).FullName;
        var missing = Path.Combine(work, "missing");
        string[] paths = [model, text, folder, missing, "", Path.Combine(missing, "x.safetensors"), Path.Combine(work, "out.safetensors")];

        string[] ints = ["0", "-1", "1", "2", "3", "16", "4096", "2147483647", "-2147483648", "99999999999", "x", "1.5", ""];
        string[] doubles = ["0", "-1", "0.5", "1", "2", "NaN", "Infinity", "-Infinity", "1e308", "x", ""];
        // Options per command: name → value generator. Sizes that make valid-but-long work (steps, layers, …) keep to
        // cheap or absurd values: absurd ones must be refused up front, and that is what is being tested.
        var commands = new Dictionary<string, (string Name, string[] Values)[]>
        {
            ["sample"] =
            [
                ("--model", paths), ("--sampler", ["esolm", "mdlm", "bd3", "ar", "nope", ""]), ("--variant", ["A", "B", "MDLM", "C"]),
                ("--allow-variant-mismatch", []), ("--alpha0", doubles), ("--steps", ints), ("--block", ints), ("--top-p", doubles), ("--top-k", ints),
                ("--temperature", doubles), ("--greedy", []), ("--seed", ["0", "1", "18446744073709551615", "-1", "x"]), ("--count", ["1", "2", "0", "-3", "5000", "x"]),
                ("--length", ints), ("--prompt", ["hi", "", "é😀", new string('a', 40)]), ("--threads", ["1", "0", "-1", "x"]), ("--json", []), ("--bogus", ["1"]),
            ],
            ["tokenize"] =
            [
                ("--tokenizer", ["byte", "nope", "gpt2:" + folder, "gpt2:" + missing, "char:" + text, "word:" + text, "char:" + folder, ""]),
                ("--text-file", paths), ("--allow-special", []),
            ],
            ["eval"] =
            [
                ("--model", paths), ("--corpus", ["builtin:grammar", text, folder, missing]), ("--documents", ["10", "0", "-1", "x"]), ("--rows", ["0", "1", "-1"]),
                ("--scorer", paths), ("--orders", ["0", "1", "-1"]), ("--samples", ["0", "1", "-1"]), ("--sampler", ["esolm", "mdlm", "nope"]), ("--steps", ints),
                ("--alpha-eval", doubles), ("--top-p", doubles), ("--alpha0", doubles), ("--variant", ["A", "B", "MDLM", "x"]), ("--no-nelbo", []),
                ("--batch", ["1", "4", "0", "-1", "100000000"]), ("--threads", ["1", "0"]), ("--json", []),
            ],
            ["train"] =
            [
                ("--corpus", ["builtin:grammar", text, folder, missing]), ("--tokenizer", ["byte", "char", "word", "nope", "gpt2:" + folder]),
                ("--variant", ["A", "B", "MDLM", "x"]), ("--alpha0", doubles), ("--layers", ["1", "0", "-1", "100000000", "x"]),
                ("--hidden", ["16", "0", "15", "100000", "-4"]), ("--heads", ["2", "0", "3", "-1"]), ("--length", ["16", "0", "-1", "100000", "2000000"]),
                ("--batch", ["2", "0", "-1", "100000000"]), ("--steps", ["1", "0", "-1", "x"]), ("--lr", doubles), ("--warmup", ["0", "5", "-1"]),
                ("--cosine", []), ("--dropout", doubles), ("--seed", ["1", "x"]), ("--threads", ["1", "0"]), ("--documents", ["20", "0", "-1"]),
                ("--checkpoint-every", ["0", "1", "-1"]), ("--out", paths), ("--resume", paths), ("--json", []),
            ],
            ["check-parity"] = [("--golden", paths), ("--json", [])],
        };
        // Cheap defaults so that a generated command line that happens to be valid finishes in about a second.
        var defaults = new Dictionary<string, string[]>
        {
            ["sample"] = ["--threads", "1"],
            ["eval"] = ["--documents", "10", "--orders", "1", "--samples", "1", "--threads", "1"],
            ["train"] = ["--steps", "1", "--layers", "1", "--hidden", "16", "--heads", "2", "--length", "16", "--batch", "2", "--documents", "20",
                "--threads", "1", "--out", Path.Combine(work, "trained.safetensors")],
            ["tokenize"] = [],
            ["check-parity"] = [],
        };

        var names = commands.Keys.ToArray();
        var gen =
            from command in Gen.Elements(names)
            from picks in Gen.ListOf(Gen.Choose(0, commands[command].Length - 1))
            from values in Gen.ArrayOf(Gen.Choose(0, 1000), picks.Count)
            from junk in Gen.Elements(["", "", "", "--", "extra", "-x", "--help"])
            select Build(command, picks, values, junk, commands, defaults);
        var lines = FsCheck.Fluent.Gen.Sample(gen, cases, new FsCheck.Rnd((ulong)seed), 12);
        for (int i = 0; i < lines.Length; i++)
        {
            var args = lines[i];
            var label = $"esolm {string.Join(' ', args.Select(a => a.Length == 0 ? "''" : a))}";
            var sw = Stopwatch.StartNew();
            var (code, stderr) = RunCli(args);
            var errors = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(l => !l.StartsWith("esolm: warning:", StringComparison.Ordinal) && !l.StartsWith("warning:", StringComparison.Ordinal)).ToArray();
            bool ok = code == 0 || (code == 1 && errors.Length == 1 && errors[0].StartsWith("esolm: error: ", StringComparison.Ordinal));
            var key = $"exit_{code}";
            summary.Extra[key] = (summary.Extra[key]?.GetValue<int>() ?? 0) + 1;
            if (!ok)
            {
                summary.Fail($"{label} → exit {code}, stderr: {stderr.Trim()}");
            }

            summary.Case(sw.Elapsed.TotalSeconds, label, CaseLimitSeconds * 3);
        }
    }

    private static string[] Build(string command, List<int> picks, int[] values, string junk, Dictionary<string, (string Name, string[] Values)[]> commands,
        Dictionary<string, string[]> defaults)
    {
        var chosen = new Dictionary<string, string?>();
        for (int k = 0; k < picks.Count; k++)
        {
            var (name, pool) = commands[command][picks[k]];
            chosen[name] = pool.Length == 0 ? null : pool[values[k] % pool.Length];
        }

        var args = new List<string> { command };
        foreach (var (name, value) in chosen)
        {
            args.Add(name);
            if (value is not null)
            {
                args.Add(value);
            }
        }

        var d = defaults[command];
        for (int k = 0; k + 1 < d.Length; k += 2)
        {
            if (!chosen.ContainsKey(d[k]))
            {
                args.AddRange([d[k], d[k + 1]]);
            }
        }

        if (junk.Length > 0)
        {
            args.Add(junk);
        }

        return [.. args];
    }

    private static (int Code, string Stderr) RunCli(string[] args)
    {
        var originalOut = Console.Out;
        var originalError = Console.Error;
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            return (EsoLM.Cli.Program.Run(args), stderr.ToString());
        }
        catch (Exception e)
        {
            return (-1, "escaped: " + e);
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }
    }

    private sealed class Summary(string fuzzer)
    {
        private readonly List<string> _examples = [];

        public JsonObject Extra { get; } = [];

        public int Cases { get; set; }

        public int Failures { get; private set; }

        public double Seconds { get; set; }

        public double SlowestSeconds { get; private set; }

        public string Slowest { get; private set; } = string.Empty;

        public void Fail(string message)
        {
            Failures++;
            if (_examples.Count < 10)
            {
                _examples.Add(message.Length > 600 ? message[..600] : message);
            }
        }

        public void Case(double seconds, string label, double limit)
        {
            Cases++;
            if (seconds > SlowestSeconds)
            {
                (SlowestSeconds, Slowest) = (seconds, label);
            }

            if (seconds > limit)
            {
                Fail($"{label}: took {seconds:F1} s (limit {limit} s)");
            }
        }

        public string ToJson() => new JsonObject
        {
            ["fuzzer"] = fuzzer,
            ["cases"] = Cases,
            ["failures"] = Failures,
            ["seconds"] = Math.Round(Seconds, 1),
            ["slowest_case_seconds"] = Math.Round(SlowestSeconds, 2),
            ["slowest_case"] = Slowest.Length > 200 ? Slowest[..200] : Slowest,
            ["examples"] = new JsonArray([.. _examples.Select(e => (JsonNode)JsonValue.Create(e)!)]),
            ["extra"] = JsonNode.Parse(Extra.ToJsonString()),
        }.ToJsonString();
    }
}
