namespace EsoLM.Masks;

/// <summary>The two Eso-LM attention variants (spec §2.2, §3), plus the bidirectional MDLM baseline.</summary>
public enum EsoLmVariant
{
    /// <summary>
    /// Variant A: clean tokens attend to each other bidirectionally (diffusion mask <c>mixed2</c>, prefix-LM sequential
    /// mask); a better pure MDM, but the diffusion phase cannot reuse a KV cache.
    /// </summary>
    A = 0,

    /// <summary>Variant B: causal in the generation (permuted) order everywhere; an exact KV cache in both phases.</summary>
    B = 1,

    /// <summary>
    /// The MDLM baseline (not an Eso-LM): bidirectional attention over the whole sequence in diffusion mode, trained with
    /// α0 = 1 only (no sequential term). Sample it with the MDLM sampler; it has no KV cache and no sequential mode.
    /// </summary>
    Mdlm = 2,
}
