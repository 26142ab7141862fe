using EsoLM.Tensors;

namespace EsoLM.Masks;

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
