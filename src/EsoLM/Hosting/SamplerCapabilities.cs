namespace EsoLM.Hosting;

/// <summary>
/// What a sampler (an <see cref="ISamplerFactory"/>) uses and needs; settings are validated against it instead of
/// against built-in sampler names, so a sampler registered under any key gets the rules that fit it. The defaults
/// claim everything and need nothing: a user's sampler that does not say otherwise is never refused a setting.
/// </summary>
public sealed record SamplerCapabilities
{
    /// <summary>Uses every setting, needs nothing special, samples with the selected mask policy.</summary>
    public static SamplerCapabilities Default { get; } = new();

    /// <summary>Whether the sampler reads <c>Steps</c>; when false, setting Steps is refused as meaningless.</summary>
    public bool UsesSteps { get; init; } = true;

    /// <summary>Whether the sampler reads <c>AlphaEval</c>; when false, an explicit AlphaEval other than 1 is refused.</summary>
    public bool UsesAlphaEval { get; init; } = true;

    /// <summary>
    /// Null when the sampler samples with the selected mask policy's masks; otherwise the name of the masks it always runs
    /// (for instance <c>mdlm</c> for bidirectional attention), compared with the masks a model was trained with.
    /// </summary>
    public string? OwnMasks { get; init; }

    /// <summary>
    /// Whether the selected mask policy must have a sequential (left-to-right) mode: the Eso-LM and AR samplers decode
    /// left to right, which the bidirectional MDLM policy cannot express.
    /// </summary>
    public bool RequiresSequentialMode { get; init; }
}
