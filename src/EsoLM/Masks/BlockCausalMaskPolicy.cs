using EsoLM.Tensors;

namespace EsoLM.Masks;

/// <summary>
/// The block-diffusion (BD3-LM) masks: slots in blocks of <see cref="BlockSize"/>, each slot sees every slot of its own
/// block and of earlier blocks (bidirectional inside a block, causal across blocks). The <c>bd3</c> sampler's default policy.
/// </summary>
internal sealed class BlockCausalMaskPolicy : IAttentionMaskPolicy
{
    /// <summary>Creates the policy.</summary>
    /// <param name="blockSize">Slots per block (≥ 1).</param>
    public BlockCausalMaskPolicy(int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        BlockSize = blockSize;
    }

    /// <summary>The name every block policy reports (the masks' family; the block size is a sampler setting).</summary>
    public const string PolicyName = "bd3";

    /// <summary>Slots per block.</summary>
    public int BlockSize { get; }

    /// <inheritdoc />
    public string Name => PolicyName;

    /// <inheritdoc />
    public EsoLmVariant? Variant => null;

    /// <inheritdoc />
    public void Diffusion(int length, int numClean, Span<KeyRange> ranges)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ranges.Length, length, nameof(ranges));
        for (int q = 0; q < length; q++)
        {
            ranges[q] = KeyRange.Of(0, Math.Min(length, ((q / BlockSize) + 1) * BlockSize));
        }
    }

    /// <inheritdoc />
    public void Sequential(int length, int numClean, Span<KeyRange> ranges) =>
        throw new NotSupportedException("Block-diffusion masks have no sequential (2L) mode.");
}
