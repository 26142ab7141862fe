using EsoLM.Tensors;

namespace EsoLM.Masks;

/// <summary>
/// The attention masks of Eso-LMs as per-query key ranges (spec §3). Slots are positions in the permuted order; the
/// clean tokens of a row occupy slots 0..c−1. Each rule fills one <see cref="KeyRange"/> per query slot.
/// </summary>
public static class MaskRules
{
    /// <summary>
    /// Diffusion mode over <paramref name="length"/> slots. B (causal): k ≤ q. A (mixed2): k ≤ q, or both q and k are
    /// clean (q &lt; c and k &lt; c). Mdlm (the baseline): every slot sees every slot.
    /// </summary>
    public static void Diffusion(EsoLmVariant variant, int length, int numClean, Span<KeyRange> ranges)
    {
        CheckCommon(length, numClean, ranges, length);
        if (variant == EsoLmVariant.Mdlm)
        {
            Bidirectional(length, length, ranges);
            return;
        }

        for (int q = 0; q < length; q++)
        {
            ranges[q] = variant == EsoLmVariant.A && q < numClean ? KeyRange.Of(0, numClean) : KeyRange.Of(0, q + 1);
        }
    }

    /// <summary>
    /// Sequential (2L) mode: slots 0..L−1 are the z-part, L..2L−1 the x-copy. z-row q sees itself and x-copy slots before
    /// its own (L ≤ k &lt; L+q); x-row q sees the x-copy causally (L ≤ k ≤ q). Variant A (prefix-LM) additionally lets the
    /// clean x-copy tokens (L ≤ q, k &lt; L+c) see each other bidirectionally. <paramref name="ranges"/> has 2L entries.
    /// The MDLM baseline has no sequential mode.
    /// </summary>
    public static void Sequential(EsoLmVariant variant, int length, int numClean, Span<KeyRange> ranges)
    {
        if (variant == EsoLmVariant.Mdlm)
        {
            throw new ArgumentException("The MDLM baseline has no sequential (2L) mode: it is trained and evaluated in diffusion mode only.", nameof(variant));
        }

        CheckCommon(length, numClean, ranges, 2 * length);
        for (int q = 0; q < length; q++)
        {
            ranges[q] = new KeyRange(q, q + 1, length, length + q);
        }

        for (int q = length; q < 2 * length; q++)
        {
            int end = q + 1;
            if (variant == EsoLmVariant.A && q < length + numClean)
            {
                end = Math.Max(end, length + numClean);
            }

            ranges[q] = KeyRange.Of(length, end);
        }
    }

    /// <summary>
    /// A window of <paramref name="count"/> queries written at slots <paramref name="firstSlot"/>.. of a KV cache: every
    /// earlier cache slot is visible and the window is causal inside (the Eso-LM (B) cached step, spec §4.3).
    /// </summary>
    public static void CausalWindow(int firstSlot, int count, Span<KeyRange> ranges)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstSlot);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(ranges.Length, count, nameof(ranges));
        for (int r = 0; r < count; r++)
        {
            ranges[r] = KeyRange.Of(0, firstSlot + r + 1);
        }
    }

    /// <summary>Every query sees keys [0, <paramref name="keys"/>) (bidirectional, MDLM).</summary>
    public static void Bidirectional(int count, int keys, Span<KeyRange> ranges)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(keys);
        ArgumentOutOfRangeException.ThrowIfLessThan(ranges.Length, count, nameof(ranges));
        for (int r = 0; r < count; r++)
        {
            ranges[r] = KeyRange.Of(0, keys);
        }
    }

    /// <summary>Expands ranges to a dense allowed[query, key] matrix (for tests, docs and debugging; not the hot path).</summary>
    public static bool[,] ToDense(ReadOnlySpan<KeyRange> ranges, int keys)
    {
        var dense = new bool[ranges.Length, keys];
        for (int q = 0; q < ranges.Length; q++)
        {
            for (int k = 0; k < keys; k++)
            {
                dense[q, k] = ranges[q].Contains(k);
            }
        }

        return dense;
    }

    private static void CheckCommon(int length, int numClean, Span<KeyRange> ranges, int needed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(numClean);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(numClean, length);
        ArgumentOutOfRangeException.ThrowIfLessThan(ranges.Length, needed, nameof(ranges));
    }
}
