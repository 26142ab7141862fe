using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EsoLM.Tensors;

/// <summary>
/// A weight matrix W stored as [rows = outputs, cols = inputs] (the PyTorch Linear layout), packed once into the
/// panel layout the GEMM micro-kernel streams, for computing Y = X·Wᵀ. Immutable after packing except through
/// <see cref="Repack(ReadOnlySpan{float})"/>; safe to share between threads for reading.
/// </summary>
/// <remarks>
/// Layout: Wᵀ cut into <see cref="PanelWidth"/>-wide column panels; panel j holds, for each input p (k-major), the
/// weights of outputs j·32 … j·32+31 contiguously, zero-padded past <see cref="Rows"/>. The buffer is 64-byte aligned
/// and lives on the pinned object heap.
/// </remarks>
internal sealed unsafe class PackedMatrix
{
    /// <summary>Width (outputs per panel) of the packed panels.</summary>
    public const int PanelWidth = GemmKernels.NR;

    private readonly float[] _data;
    private readonly int _offset;

    private PackedMatrix(int rows, int cols)
    {
        Rows = rows;
        Cols = cols;
        PanelCount = (rows + PanelWidth - 1) / PanelWidth;
        _data = GC.AllocateArray<float>(checked((PanelCount * PanelWidth * cols) + 16), pinned: true);
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_data));
        _offset = (int)(((64 - (address & 63)) & 63) / sizeof(float));
    }

    /// <summary>Number of rows of W (outputs of the linear map, N of the GEMM).</summary>
    public int Rows { get; }

    /// <summary>Number of columns of W (inputs of the linear map, K of the GEMM).</summary>
    public int Cols { get; }

    /// <summary>Number of <see cref="PanelWidth"/>-wide panels.</summary>
    public int PanelCount { get; }

    /// <summary>Packs a row-major [<paramref name="rows"/>, <paramref name="cols"/>] matrix.</summary>
    public static PackedMatrix Pack(ReadOnlySpan<float> weights, int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        var m = new PackedMatrix(rows, cols);
        m.Repack(weights);
        return m;
    }

    /// <summary>Re-packs new values of the same shape (after an optimizer step). Not thread-safe with readers. Allocation-free.</summary>
    public void Repack(ReadOnlySpan<float> weights)
    {
        if (weights.Length != Rows * Cols)
        {
            throw new ArgumentException($"Expected {Rows}×{Cols} = {Rows * Cols} values, got {weights.Length}.", nameof(weights));
        }

        fixed (float* src = weights)
        {
            GemmKernels.PackPanels(src, Cols, 1, Rows, Cols, Data);
        }
    }

    /// <summary>
    /// <see cref="Repack(ReadOnlySpan{float})"/> on up to <see cref="ComputeContext.MaxDegreeOfParallelism"/> threads.
    /// </summary>
    /// <param name="context">Threads to use.</param>
    /// <param name="weights">Row-major [<see cref="Rows"/>, <see cref="Cols"/>] values.</param>
    public void Repack(ComputeContext context, ReadOnlySpan<float> weights)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (weights.Length != Rows * Cols)
        {
            throw new ArgumentException($"Expected {Rows}×{Cols} = {Rows * Cols} values, got {weights.Length}.", nameof(weights));
        }

        fixed (float* src = weights)
        {
            GemmKernels.PackPanelsParallel(context.MaxDegreeOfParallelism, src, Cols, 1, Rows, Cols, Data);
        }
    }

    /// <summary>Copies W back out in row-major [<see cref="Rows"/>, <see cref="Cols"/>] order.</summary>
    public void CopyTo(Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, Rows * Cols, nameof(destination));
        float* d = Data;
        for (int j = 0; j < Rows; j++)
        {
            float* panel = d + ((long)(j / PanelWidth) * Cols * PanelWidth) + (j % PanelWidth);
            for (int p = 0; p < Cols; p++)
            {
                destination[(j * Cols) + p] = panel[p * PanelWidth];
            }
        }
    }

    /// <summary>Aligned pointer to the packed panels (the array is pinned for its lifetime).</summary>
    internal float* Data => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_data)) + _offset;

    /// <summary>Keeps the pinned buffer reachable while a pointer from <see cref="Data"/> is in use.</summary>
    internal void KeepAlive() => GC.KeepAlive(_data);
}
