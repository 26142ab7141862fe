using EsoLM.Tensors;

namespace EsoLM.Modeling;

/// <summary>
/// The input of one training (or evaluation) pass: sequences of tokens in slot order with their original positions and
/// per-query key ranges (no KV cache: each sequence attends within itself), and for each row a target token and a loss
/// weight. Only rows with a non-zero weight produce logits, so the vocabulary head costs nothing for clean rows.
/// Reusable: <see cref="Clear"/> keeps the buffers.
/// </summary>
public sealed class TrainingBatch
{
    private int[] _tokens = new int[256];
    private int[] _positions = new int[256];
    private KeyRange[] _visible = new KeyRange[256];
    private int[] _targets = new int[256];
    private float[] _weights = new float[256];
    private (int Start, int Count)[] _sequences = new (int, int)[8];

    /// <summary>Number of sequences.</summary>
    public int SequenceCount { get; private set; }

    /// <summary>Total rows.</summary>
    public int RowCount { get; private set; }

    /// <summary>Input ids of all rows, sequences concatenated: [RowCount].</summary>
    public ReadOnlySpan<int> Tokens => _tokens.AsSpan(0, RowCount);

    /// <summary>Original position (RoPE) of every row: [RowCount].</summary>
    public ReadOnlySpan<int> Positions => _positions.AsSpan(0, RowCount);

    /// <summary>Keys each row may attend to, as row indices within its own sequence: [RowCount].</summary>
    public ReadOnlySpan<KeyRange> Visible => _visible.AsSpan(0, RowCount);

    /// <summary>Target id of every row (meaningful where the weight is non-zero): [RowCount].</summary>
    public ReadOnlySpan<int> Targets => _targets.AsSpan(0, RowCount);

    /// <summary>Loss weight of every row: [RowCount].</summary>
    public ReadOnlySpan<float> Weights => _weights.AsSpan(0, RowCount);

    /// <summary>First row and row count of every sequence: [SequenceCount].</summary>
    public ReadOnlySpan<(int Start, int Count)> Sequences => _sequences.AsSpan(0, SequenceCount);

    /// <summary>Removes all sequences.</summary>
    public void Clear()
    {
        SequenceCount = 0;
        RowCount = 0;
    }

    /// <summary>Adds one sequence. Key ranges index rows of this sequence (0 = its first row).</summary>
    /// <param name="tokens">Input ids in slot order.</param>
    /// <param name="positions">Original position of each row (RoPE).</param>
    /// <param name="visible">Keys each row may attend to, within this sequence.</param>
    /// <param name="targets">Target id per row (ignored where the weight is 0).</param>
    /// <param name="weights">Loss weight per row: the loss is Σ weight·(−log p(target)); 0 = no loss at this row.</param>
    public void Add(ReadOnlySpan<int> tokens, ReadOnlySpan<int> positions, ReadOnlySpan<KeyRange> visible, ReadOnlySpan<int> targets,
        ReadOnlySpan<float> weights)
    {
        int n = tokens.Length;
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1, nameof(tokens));
        if (positions.Length != n || visible.Length != n || targets.Length != n || weights.Length != n)
        {
            throw new ArgumentException(
                $"positions, visible, targets and weights must each have {n} entries (got {positions.Length}, {visible.Length}, {targets.Length}, {weights.Length}).",
                nameof(tokens));
        }

        for (int r = 0; r < n; r++)
        {
            var v = visible[r];
            if (v.Start0 < 0 || v.Start0 > v.End0 || v.Start1 < 0 || v.Start1 > v.End1 || v.MaxEnd > n)
            {
                throw new ArgumentOutOfRangeException(nameof(visible), v, $"Row {r}: key ranges must lie inside the sequence [0, {n}).");
            }

            if (!float.IsFinite(weights[r]))
            {
                throw new ArgumentOutOfRangeException(nameof(weights), weights[r], $"Row {r}: the loss weight must be finite.");
            }
        }

        int need = RowCount + n;
        if (need > _tokens.Length)
        {
            int size = Math.Max(need, _tokens.Length * 2);
            Array.Resize(ref _tokens, size);
            Array.Resize(ref _positions, size);
            Array.Resize(ref _visible, size);
            Array.Resize(ref _targets, size);
            Array.Resize(ref _weights, size);
        }

        if (SequenceCount == _sequences.Length)
        {
            Array.Resize(ref _sequences, _sequences.Length * 2);
        }

        tokens.CopyTo(_tokens.AsSpan(RowCount));
        positions.CopyTo(_positions.AsSpan(RowCount));
        visible.CopyTo(_visible.AsSpan(RowCount));
        targets.CopyTo(_targets.AsSpan(RowCount));
        weights.CopyTo(_weights.AsSpan(RowCount));
        _sequences[SequenceCount++] = (RowCount, n);
        RowCount += n;
    }
}
