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
