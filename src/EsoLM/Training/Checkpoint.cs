using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using EsoLM.IO;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Schedules;
using EsoLM.Text;

namespace EsoLM.Training;

/// <summary>Everything needed to continue a training run exactly.</summary>
/// <param name="Config">Model shape.</param>
/// <param name="Parameters">Raw (trained) weights.</param>
/// <param name="Ema">EMA weights.</param>
/// <param name="FirstMoment">AdamW m.</param>
/// <param name="SecondMoment">AdamW v.</param>
/// <param name="Step">Optimizer steps done.</param>
/// <param name="OptimizerSteps">AdamW's bias-correction step count.</param>
/// <param name="EmaUpdates">EMA update count.</param>
/// <param name="Objective">Objective settings as JSON.</param>
/// <param name="Trainer">Trainer settings as JSON (steps and checkpoint interval excluded).</param>
/// <param name="DataFingerprint">Fingerprint of the dataset rows.</param>
/// <param name="Tokenizer">Tokenizer description, if any.</param>
internal sealed record CheckpointState(ModelConfig Config, ModelParameters Parameters, ModelParameters Ema, ModelParameters FirstMoment,
    ModelParameters SecondMoment, int Step, long OptimizerSteps, long EmaUpdates, string Objective, string Trainer, ulong DataFingerprint,
    TokenizerDescription? Tokenizer);

/// <summary>
/// Training checkpoints: one safetensors file with the raw weights, EMA weights and AdamW moments (prefixes
/// <c>param.</c>, <c>ema.</c>, <c>adam.m.</c>, <c>adam.v.</c>) and the step, counters, settings and data fingerprint in
/// the metadata. Written to a temporary name and moved, so a crash never leaves a half-written checkpoint. Random draws
/// are keyed by (seed, step), so the step is the whole random state.
/// </summary>
internal static class Checkpoint
{
    /// <summary>Value of the <c>format</c> metadata entry.</summary>
    public const string FormatName = "esolm-checkpoint";

    private static readonly string[] Prefixes = ["param.", "ema.", "adam.m.", "adam.v."];

    /// <summary>Writes a checkpoint atomically.</summary>
    public static void Save(string path, CheckpointState state)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(state);
        var groups = new[] { state.Parameters, state.Ema, state.FirstMoment, state.SecondMoment };
        var tensors = new List<NamedTensor>();
        for (int g = 0; g < groups.Length; g++)
        {
            tensors.AddRange(groups[g].Tensors.Select(t => new NamedTensor(Prefixes[g] + t.Name, t.Shape, t.Data)));
        }

        var inv = CultureInfo.InvariantCulture;
        var meta = new Dictionary<string, string>
        {
            ["format"] = FormatName,
            ["esolm.format_version"] = "1",
            [ModelFile.ConfigKey] = state.Config.ToJson(),
            ["esolm.step"] = state.Step.ToString(inv),
            ["esolm.optimizer_steps"] = state.OptimizerSteps.ToString(inv),
            ["esolm.ema_updates"] = state.EmaUpdates.ToString(inv),
            ["esolm.objective"] = state.Objective,
            ["esolm.trainer"] = state.Trainer,
            ["esolm.data_fingerprint"] = state.DataFingerprint.ToString(inv),
        };
        if (state.Tokenizer is not null)
        {
            meta[ModelFile.TokenizerKey] = JsonSerializer.Serialize(new Dictionary<string, string> { ["kind"] = state.Tokenizer.Kind, ["payload"] = state.Tokenizer.Payload });
        }

        SafetensorsWriter.Write(path, tensors, meta);
    }

    /// <summary>Reads a checkpoint written by <see cref="Save"/>.</summary>
    public static CheckpointState Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var reader = SafetensorsReader.Open(path);
        var meta = reader.Metadata;
        if (!meta.TryGetValue("format", out var format) || format != FormatName)
        {
            throw new InvalidDataException($"'{path}' is not an EsoLM.Net training checkpoint (format '{format ?? "missing"}', expected '{FormatName}').");
        }

        string Get(string key) => meta.TryGetValue(key, out var v) ? v : throw new InvalidDataException($"Checkpoint '{path}' lacks metadata '{key}'.");
        var config = ModelConfig.FromJson(Get(ModelFile.ConfigKey));
        var groups = new ModelParameters[4];
        for (int g = 0; g < 4; g++)
        {
            var prefix = Prefixes[g];
            ReferenceImport.CheckShapes(reader, config, prefix);
            groups[g] = ModelParameters.FromNamedTensors(config, reader.Tensors.Where(t => t.Name.StartsWith(prefix, StringComparison.Ordinal))
                .Select(t => (t.Name[prefix.Length..], (IReadOnlyList<int>)t.Shape, reader.ReadSingle(t.Name))));
        }

        TokenizerDescription? tokenizer = null;
        if (meta.TryGetValue(ModelFile.TokenizerKey, out var tok))
        {
            var d = JsonSerializer.Deserialize<Dictionary<string, string>>(tok)!;
            tokenizer = new TokenizerDescription(d["kind"], d["payload"]);
        }

        var inv = CultureInfo.InvariantCulture;
        return new CheckpointState(config, groups[0], groups[1], groups[2], groups[3], int.Parse(Get("esolm.step"), inv),
            long.Parse(Get("esolm.optimizer_steps"), inv), long.Parse(Get("esolm.ema_updates"), inv), Get("esolm.objective"), Get("esolm.trainer"),
            ulong.Parse(Get("esolm.data_fingerprint"), inv), tokenizer);
    }

    /// <summary>The objective settings as canonical JSON (the schedule by name).</summary>
    public static string Describe(ObjectiveOptions o)
    {
        ArgumentNullException.ThrowIfNull(o);
        var json = new JsonObject
        {
            ["alpha0"] = o.Alpha0,
            ["variant"] = o.Variant.ToString(),
            ["batch_split"] = o.EffectiveBatchSplit,
            ["weighting"] = o.Weighting.ToString(),
            ["schedule"] = o.Schedule.Name,
            ["sampling_eps"] = o.SamplingEpsilon,
            ["diffusion_shuffle"] = o.DiffusionShuffle,
            ["sequential_shuffle"] = o.EffectiveSequentialShuffle,
        };
        if (o.MaskPolicy is { Variant: null } custom)
        {
            json["mask_policy"] = custom.Name; // built-in policies are implied by the variant (and older files stay identical)
        }

        return json.ToJsonString();
    }

    /// <summary>Rebuilds objective settings from <see cref="Describe(ObjectiveOptions)"/> JSON (built-in schedules only).</summary>
    public static ObjectiveOptions ParseObjective(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var o = JsonNode.Parse(json)!.AsObject();
        var schedule = (string)o["schedule"]! switch
        {
            "log-linear" => (INoiseSchedule)LogLinearSchedule.Default,
            "cosine" => new CosineSchedule(),
            var other => throw new InvalidDataException($"Unknown noise schedule '{other}' in the checkpoint; pass the objective options explicitly."),
        };
        return new ObjectiveOptions
        {
            Alpha0 = (double)o["alpha0"]!,
            Variant = Enum.Parse<EsoLmVariant>((string)o["variant"]!),
            BatchSplit = (double)o["batch_split"]!,
            Weighting = Enum.Parse<LossWeighting>((string)o["weighting"]!),
            Schedule = schedule,
            SamplingEpsilon = (double)o["sampling_eps"]!,
            DiffusionShuffle = (bool)o["diffusion_shuffle"]!,
            SequentialShuffle = (bool)o["sequential_shuffle"]!,
        };
    }

    /// <summary>The trainer settings that must not change on resume, as canonical JSON.</summary>
    public static string Describe(TrainerOptions t)
    {
        ArgumentNullException.ThrowIfNull(t);
        var json = new JsonObject
        {
            ["batch"] = t.BatchSize,
            ["lr"] = t.LearningRate,
            ["warmup"] = t.WarmupSteps,
            ["decay"] = t.Decay.ToString(),
            ["clip"] = t.GradientClip,
            ["ema"] = t.EmaDecay,
            ["dropout"] = t.Dropout,
            ["seed"] = t.Seed,
            ["beta1"] = t.Optimizer.Beta1,
            ["beta2"] = t.Optimizer.Beta2,
            ["eps"] = t.Optimizer.Epsilon,
            ["weight_decay"] = t.Optimizer.WeightDecay,
        };
        if (t.GradientAccumulation != 1)
        {
            json["grad_accum"] = t.GradientAccumulation; // only when used, so older checkpoints stay resumable
        }

        return json.ToJsonString();
    }
}
