using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using EsoLM.Hosting;
using EsoLM.Masks;
using EsoLM.Schedules;
using EsoLM.Text;

namespace EsoLM.Training;

/// <summary>
/// How a model was trained: its attention variant (the masks it must be sampled with), α0, the full objective settings
/// and the tokenizer. Written into the model file by the trainer (metadata <see cref="MetadataKey"/>) and read back by
/// <c>EsoLmModel.Load</c>, so the generator, the chat client, the estimator and the CLI sample a model with the masks
/// and α0 it was trained with unless told otherwise. Immutable.
/// </summary>
public sealed class TrainingDescription
{
    /// <summary>The model-file metadata key holding the objective settings as JSON.</summary>
    public const string MetadataKey = "esolm.objective";

    private TrainingDescription(EsoLmVariant variant, string maskPolicy, double alpha0, string scheduleName, ObjectiveOptions? objective,
        TokenizerDescription? tokenizer, string json)
    {
        Variant = variant;
        MaskPolicy = maskPolicy;
        Alpha0 = alpha0;
        ScheduleName = scheduleName;
        Objective = objective;
        Tokenizer = tokenizer;
        Json = json;
    }

    /// <summary>The attention variant the model was trained with (A, B or the bidirectional MDLM baseline).</summary>
    public EsoLmVariant Variant { get; }

    /// <summary>α0 of training: the expected fraction of tokens decoded by diffusion (the default α_eval of sampling).</summary>
    public double Alpha0 { get; }

    /// <summary>
    /// The mask policy the model was trained with: the built-in one of <see cref="Variant"/> (<c>esolm-a</c>,
    /// <c>esolm-b</c>, <c>mdlm</c>) or a custom policy's name. Generation defaults to the policy registered under this key
    /// and refuses other masks unless the caller opts in.
    /// </summary>
    public string MaskPolicy { get; }

    /// <summary>The name of the training noise schedule (<c>log-linear</c>, <c>cosine</c> or a custom schedule's name).</summary>
    public string ScheduleName { get; }

    /// <summary>
    /// The complete objective settings, or null when the training schedule (<see cref="ScheduleName"/>) or a custom
    /// <see cref="MaskPolicy"/> was not registered with the strategies the description was read with (the variant, the
    /// policy's name and α0 are known either way).
    /// </summary>
    public ObjectiveOptions? Objective { get; }

    /// <summary>The tokenizer the model was trained with, when the model file records one.</summary>
    public TokenizerDescription? Tokenizer { get; }

    /// <summary>The objective settings as stored under <see cref="MetadataKey"/>.</summary>
    internal string Json { get; }

    /// <summary>The built-in mask policy key of a variant (<c>esolm-a</c>, <c>esolm-b</c>, <c>mdlm</c>).</summary>
    /// <param name="variant">The variant.</param>
    /// <returns>The key.</returns>
    public static string MaskPolicyOf(EsoLmVariant variant) => variant switch
    {
        EsoLmVariant.A => "esolm-a",
        EsoLmVariant.B => "esolm-b",
        EsoLmVariant.Mdlm => "mdlm",
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "The variant must be A, B or Mdlm."),
    };

    /// <summary>Describes a model trained with <paramref name="objective"/>.</summary>
    /// <param name="objective">The objective settings (validated).</param>
    /// <param name="tokenizer">The tokenizer's description, if known.</param>
    /// <returns>The description.</returns>
    public static TrainingDescription FromObjective(ObjectiveOptions objective, TokenizerDescription? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(objective);
        objective.Validate();
        return new TrainingDescription(objective.Variant, objective.EffectiveMaskPolicy.Name, objective.Alpha0, objective.Schedule.Name, objective, tokenizer,
            Checkpoint.Describe(objective));
    }

    /// <summary>
    /// Reads the description from model-file metadata; null when the file has no <see cref="MetadataKey"/> entry (a
    /// reference import or a model saved without training settings).
    /// </summary>
    /// <param name="metadata">The file's metadata.</param>
    /// <param name="tokenizer">The file's tokenizer description, if any.</param>
    /// <param name="strategies">Resolves custom schedules and mask policies by name; null = <see cref="BuiltInStrategies.Instance"/>.</param>
    /// <returns>The description, or null.</returns>
    /// <exception cref="InvalidDataException">The entry is not valid objective JSON.</exception>
    public static TrainingDescription? FromMetadata(IReadOnlyDictionary<string, string> metadata, TokenizerDescription? tokenizer = null,
        IEsoLmStrategyProvider? strategies = null)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        return metadata.TryGetValue(MetadataKey, out var json) ? Parse(json, tokenizer, strategies) : null;
    }

    /// <summary>Parses the JSON stored under <see cref="MetadataKey"/>.</summary>
    /// <param name="json">The JSON.</param>
    /// <param name="tokenizer">The tokenizer description, if any.</param>
    /// <param name="strategies">Resolves custom schedules and mask policies by name; null = <see cref="BuiltInStrategies.Instance"/>.</param>
    /// <returns>The description.</returns>
    /// <exception cref="InvalidDataException">The JSON is not valid objective settings.</exception>
    public static TrainingDescription Parse(string json, TokenizerDescription? tokenizer = null, IEsoLmStrategyProvider? strategies = null)
    {
        strategies ??= BuiltInStrategies.Instance;
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            var o = JsonNode.Parse(json)?.AsObject() ?? throw new InvalidDataException("it is not a JSON object");
            var variant = Enum.Parse<EsoLmVariant>((string?)o["variant"] ?? throw new InvalidDataException("'variant' is missing"), ignoreCase: true);
            if (!Enum.IsDefined(variant))
            {
                throw new InvalidDataException($"'variant' {variant} is not A, B or Mdlm");
            }

            double alpha0 = (double?)o["alpha0"] ?? throw new InvalidDataException("'alpha0' is missing");
            if (!(alpha0 >= 0 && alpha0 <= 1))
            {
                throw new InvalidDataException($"'alpha0' {alpha0.ToString(CultureInfo.InvariantCulture)} is outside [0, 1]");
            }

            string scheduleName = (string?)o["schedule"] ?? LogLinearSchedule.Default.Name;
            INoiseSchedule? schedule = scheduleName switch
            {
                "log-linear" => LogLinearSchedule.Default,
                "cosine" => new CosineSchedule(),
                _ => Find<INoiseSchedule>(strategies, scheduleName),
            };
            string? customPolicy = (string?)o["mask_policy"];
            var policy = customPolicy is null ? null : Find<IAttentionMaskPolicy>(strategies, customPolicy);
            ObjectiveOptions? objective = null;
            if (schedule is not null && (customPolicy is null || policy is not null))
            {
                objective = new ObjectiveOptions
                {
                    Alpha0 = alpha0,
                    Variant = variant,
                    BatchSplit = (double?)o["batch_split"],
                    Weighting = Enum.Parse<LossWeighting>((string?)o["weighting"] ?? nameof(LossWeighting.Elbo)),
                    Schedule = schedule,
                    SamplingEpsilon = (double?)o["sampling_eps"] ?? 1e-3,
                    DiffusionShuffle = (bool?)o["diffusion_shuffle"] ?? true,
                    SequentialShuffle = (bool?)o["sequential_shuffle"],
                    MaskPolicy = policy is { Variant: null } ? policy : null,
                };
                objective.Validate();
            }

            return new TrainingDescription(variant, customPolicy ?? MaskPolicyOf(variant), alpha0, scheduleName, objective, tokenizer, json);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or ArgumentException or InvalidCastException)
        {
            throw new InvalidDataException($"The model's '{MetadataKey}' metadata is not valid objective settings: {e.Message}", e);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"The model's '{MetadataKey}' metadata is not valid objective settings: {e.Message}", e);
        }
    }

    private static T? Find<T>(IEsoLmStrategyProvider strategies, string key)
        where T : class => strategies.GetKeys<T>().Contains(key, StringComparer.Ordinal) ? strategies.GetStrategy<T>(key) : null;

    /// <summary>Whether sampling with the masks of <paramref name="maskPolicy"/> is what the model was trained for.</summary>
    /// <param name="maskPolicy">A mask policy key or name (<c>esolm-a</c>, <c>esolm-b</c>, <c>mdlm</c>, …).</param>
    /// <returns>True when the masks are the training masks.</returns>
    public bool IsTrainedWith(string maskPolicy)
    {
        ArgumentNullException.ThrowIfNull(maskPolicy);
        return string.Equals(maskPolicy, MaskPolicy, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A one-line summary, e.g. <c>Eso-LM (B), α0 = 0.25, log-linear schedule</c>.</summary>
    /// <returns>The summary.</returns>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{(Variant == EsoLmVariant.Mdlm ? "MDLM (bidirectional)" : $"Eso-LM ({Variant})")}, α0 = {Alpha0}, {ScheduleName} schedule");
}
