using EsoLM.Tensors;

namespace EsoLM.Masks;

/// <summary>
/// Which keys each query may see during generation, per phase (spec §3–4). Keys are described as at most two contiguous
/// ranges per query (<see cref="KeyRange"/>). Implementations must be immutable and thread-safe; they are registered by key
/// (<c>builder.AddMaskPolicy&lt;T&gt;("name")</c>) and selected by <c>EsoLmOptions.MaskPolicy</c>.
/// </summary>
public interface IAttentionMaskPolicy
{
    /// <summary>A short name, e.g. <c>esolm-b</c>.</summary>
    string Name { get; }

    /// <summary>
    /// The built-in Eso-LM variant this policy corresponds to, or <see langword="null"/> for a custom policy. The built-in
    /// samplers run the fused masks of a variant; a custom policy (null) needs a sampler that calls
    /// <see cref="Diffusion"/>/<see cref="Sequential"/> itself.
    /// </summary>
    EsoLmVariant? Variant { get; }

    /// <summary>Key ranges of the diffusion phase for a window of <paramref name="length"/> slots with <paramref name="numClean"/> clean ones first.</summary>
    /// <param name="length">Slots in the window.</param>
    /// <param name="numClean">Clean slots (they come first in generation order).</param>
    /// <param name="ranges">One range per slot (length <paramref name="length"/>).</param>
    void Diffusion(int length, int numClean, Span<KeyRange> ranges);

    /// <summary>Key ranges of the sequential phase.</summary>
    /// <param name="length">Slots in the window.</param>
    /// <param name="numClean">Clean slots.</param>
    /// <param name="ranges">One range per slot.</param>
    void Sequential(int length, int numClean, Span<KeyRange> ranges);
}

/// <summary>
/// The built-in mask policies (<c>esolm-a</c>, <c>esolm-b</c>, and <c>mdlm</c>: bidirectional, the MDLM baseline's),
/// delegating to <see cref="MaskRules"/>.
/// </summary>
public sealed class EsoLmMaskPolicy : IAttentionMaskPolicy
{
    /// <summary>Eso-LM (A): bidirectional over the clean set in the diffusion phase.</summary>
    public static EsoLmMaskPolicy A { get; } = new(EsoLmVariant.A);

    /// <summary>Eso-LM (B): causal in generation order in both phases (KV-cached everywhere).</summary>
    public static EsoLmMaskPolicy B { get; } = new(EsoLmVariant.B);

    /// <summary>The MDLM baseline: bidirectional over the whole sequence in diffusion mode; it has no sequential mode.</summary>
    public static EsoLmMaskPolicy Mdlm { get; } = new(EsoLmVariant.Mdlm);

    private EsoLmMaskPolicy(EsoLmVariant variant) => Variant = variant;

    /// <summary>The built-in policy of a variant.</summary>
    /// <param name="variant">A, B or Mdlm.</param>
    /// <returns><see cref="A"/>, <see cref="B"/> or <see cref="Mdlm"/>.</returns>
    public static EsoLmMaskPolicy Of(EsoLmVariant variant) => variant switch
    {
        EsoLmVariant.A => A,
        EsoLmVariant.B => B,
        EsoLmVariant.Mdlm => Mdlm,
        _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "The variant must be A, B or Mdlm."),
    };

    /// <inheritdoc />
    public string Name => Variant switch { EsoLmVariant.A => "esolm-a", EsoLmVariant.B => "esolm-b", _ => "mdlm" };

    /// <summary>The variant.</summary>
    public EsoLmVariant Variant { get; }

    EsoLmVariant? IAttentionMaskPolicy.Variant => Variant;

    /// <inheritdoc />
    public void Diffusion(int length, int numClean, Span<KeyRange> ranges) => MaskRules.Diffusion(Variant, length, numClean, ranges);

    /// <inheritdoc />
    public void Sequential(int length, int numClean, Span<KeyRange> ranges) => MaskRules.Sequential(Variant, length, numClean, ranges);
}
