namespace EsoLM.Masks;

/// <summary>The two Eso-LM attention variants (spec §2.2, §3).</summary>
public enum EsoLmVariant
{
    /// <summary>
    /// Variant A: clean tokens attend to each other bidirectionally (diffusion mask <c>mixed2</c>, prefix-LM sequential
    /// mask); a better pure MDM, but the diffusion phase cannot reuse a KV cache.
    /// </summary>
    A = 0,

    /// <summary>Variant B: causal in the generation (permuted) order everywhere; an exact KV cache in both phases.</summary>
    B = 1,
}
