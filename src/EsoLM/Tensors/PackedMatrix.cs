namespace EsoLM.Tensors;

/// <summary>
/// A weight matrix W stored as [rows = outputs, cols = inputs] (the PyTorch Linear layout), packed once into the
/// panel layout the GEMM micro-kernel streams, for computing Y = X·Wᵀ. Immutable after packing except through
/// <see cref="Repack"/>; safe to share between threads for reading.
/// </summary>
public sealed class PackedMatrix
{
    private readonly float[] _data;

    private PackedMatrix(int rows, int cols)
    {
        Rows = rows;
        Cols = cols;
        _data = new float[checked(rows * cols)];
    }

    /// <summary>Number of rows of W (outputs of the linear map, N of the GEMM).</summary>
    public int Rows { get; }

    /// <summary>Number of columns of W (inputs of the linear map, K of the GEMM).</summary>
    public int Cols { get; }

    /// <summary>Packs a row-major [<paramref name="rows"/>, <paramref name="cols"/>] matrix.</summary>
    public static PackedMatrix Pack(ReadOnlySpan<float> weights, int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        var m = new PackedMatrix(rows, cols);
        m.Repack(weights);
        return m;
    }

    /// <summary>Re-packs new values of the same shape (after an optimizer step). Not thread-safe with readers.</summary>
    public void Repack(ReadOnlySpan<float> weights)
    {
        if (weights.Length != Rows * Cols)
        {
            throw new ArgumentException($"Expected {Rows}×{Cols} = {Rows * Cols} values, got {weights.Length}.", nameof(weights));
        }

        weights.CopyTo(_data);
    }

    /// <summary>Row-major view of W (plain-path storage).</summary>
    internal ReadOnlySpan<float> RowMajor => _data;
}
