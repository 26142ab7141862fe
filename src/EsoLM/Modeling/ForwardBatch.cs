using EsoLM.Backends;
using EsoLM.Tensors;

namespace EsoLM.Modeling;

/// <summary>
/// The input of one forward call: for each sequence, a window of tokens with their ORIGINAL positions (for RoPE), the
/// keys each query may see (<see cref="KeyRange"/> over the slots of the sequence's <see cref="IKvCache"/>), the cache slot at
/// which the window's K/V are written, and which window rows need logits. Reusable: <see cref="Clear"/> keeps the
/// buffers, so a sampler step allocates nothing once the batch has grown to its working size. Backends read it through
/// <see cref="Tokens"/>, <see cref="Positions"/>, <see cref="Visible"/> and <see cref="Windows"/>.
/// </summary>
public sealed class ForwardBatch
{
    private int[] _tokens = new int[64];
    private int[] _positions = new int[64];
    private KeyRange[] _visible = new KeyRange[64];
    private ForwardWindow[] _entries = new ForwardWindow[4];

    /// <summary>Number of sequences added.</summary>
    public int SequenceCount { get; private set; }

    /// <summary>Total window rows over all sequences.</summary>
    public int RowCount { get; private set; }

    /// <summary>Total rows that produce logits; the logits buffer of a forward call holds OutputRowCount × vocab values.</summary>
    public int OutputRowCount { get; private set; }

    /// <summary>Token ids of all window rows, sequences concatenated in the order added: [RowCount].</summary>
    public ReadOnlySpan<int> Tokens => _tokens.AsSpan(0, RowCount);

    /// <summary>Original position (for RoPE) of every window row: [RowCount].</summary>
    public ReadOnlySpan<int> Positions => _positions.AsSpan(0, RowCount);

    /// <summary>The cache slots each window row attends to: [RowCount].</summary>
    public ReadOnlySpan<KeyRange> Visible => _visible.AsSpan(0, RowCount);

    /// <summary>One entry per sequence, in the order added.</summary>
    public ReadOnlySpan<ForwardWindow> Windows => _entries.AsSpan(0, SequenceCount);

    internal ReadOnlySpan<ForwardWindow> Entries => Windows;

    /// <summary>Removes all sequences, keeping the buffers.</summary>
    public void Clear()
    {
        SequenceCount = 0;
        RowCount = 0;
        OutputRowCount = 0;
        Array.Clear(_entries);
    }

    /// <summary>Adds one sequence's window.</summary>
    /// <param name="cache">The sequence's cache; the window's K/V are written at slots <paramref name="writeSlot"/>.. .</param>
    /// <param name="writeSlot">First cache slot written.</param>
    /// <param name="tokens">Token ids of the window.</param>
    /// <param name="positions">Original position of each window token (RoPE).</param>
    /// <param name="visible">For each window row, the cache slots it attends to (they must be written by now or by this call).</param>
    /// <param name="outputStart">First window row whose logits are returned.</param>
    /// <param name="outputCount">Number of consecutive rows whose logits are returned.</param>
    public void Add(IKvCache cache, int writeSlot, ReadOnlySpan<int> tokens, ReadOnlySpan<int> positions,
        ReadOnlySpan<KeyRange> visible, int outputStart, int outputCount)
    {
        ArgumentNullException.ThrowIfNull(cache);
        int n = tokens.Length;
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1, nameof(tokens));
        if (positions.Length != n)
        {
            throw new ArgumentException($"positions has {positions.Length} entries but tokens has {n}.", nameof(positions));
        }

        if (visible.Length != n)
        {
            throw new ArgumentException($"visible has {visible.Length} entries but tokens has {n}.", nameof(visible));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(writeSlot);
        if (writeSlot + n > cache.Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens), n,
                $"A window of {n} tokens written at slot {writeSlot} exceeds the cache capacity {cache.Capacity} (the context).");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(outputStart);
        ArgumentOutOfRangeException.ThrowIfNegative(outputCount);
        if (outputStart + outputCount > n)
        {
            throw new ArgumentOutOfRangeException(nameof(outputCount), outputCount,
                $"Output rows [{outputStart}, {outputStart + outputCount}) exceed the window of {n} rows.");
        }

        for (int r = 0; r < n; r++)
        {
            var v = visible[r];
            if (v.Start0 < 0 || v.Start0 > v.End0 || v.Start1 < 0 || v.Start1 > v.End1 || v.End0 > cache.Capacity || v.End1 > cache.Capacity
                || (v.Count > 0 && v.End0 > v.Start0 && v.End1 > v.Start1 && v.Start1 < v.End0 && v.Start0 < v.End1))
            {
                throw new ArgumentOutOfRangeException(nameof(visible), v,
                    $"Row {r}: key ranges must be ordered, non-overlapping and inside the cache capacity {cache.Capacity}.");
            }
        }

        EnsureCapacity(RowCount + n);
        if (SequenceCount == _entries.Length)
        {
            Array.Resize(ref _entries, _entries.Length * 2);
        }

        tokens.CopyTo(_tokens.AsSpan(RowCount));
        positions.CopyTo(_positions.AsSpan(RowCount));
        visible.CopyTo(_visible.AsSpan(RowCount));
        _entries[SequenceCount++] = new ForwardWindow(cache, writeSlot, RowCount, n, outputStart, outputCount, OutputRowCount);
        RowCount += n;
        OutputRowCount += outputCount;
    }

    private void EnsureCapacity(int rows)
    {
        if (rows <= _tokens.Length)
        {
            return;
        }

        int size = Math.Max(rows, _tokens.Length * 2);
        Array.Resize(ref _tokens, size);
        Array.Resize(ref _positions, size);
        Array.Resize(ref _visible, size);
    }
}
