using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EsoLM.Tensors;

/// <summary>
/// A weight matrix W stored as [rows = outputs, cols = inputs] (the PyTorch Linear layout), packed once into the
/// panel layout the GEMM micro-kernel streams, for computing Y = X·Wᵀ. Immutable after packing except through
/// <see cref="Repack(ReadOnlySpan{float})"/>; safe to share between threads for reading.
/// </summary>
/// <remarks>
/// <para>Layout: Wᵀ cut into <see cref="PanelWidth"/>-wide column panels; panel j holds, for each input p (k-major), the
/// weights of outputs j·32 … j·32+31 contiguously, zero-padded past <see cref="Rows"/>. The buffer is 64-byte aligned
/// and lives on the pinned object heap.</para>
/// <para>In <see cref="WeightFormat.BFloat16"/> each k-step of a panel is 32 bfloat16 values (one 64-byte line) with
/// outputs c and c + 16 sharing a 32-bit word, so a vector of words widens to two fp32 vectors with one shift and one
/// mask. In <see cref="WeightFormat.Int8"/> each k-step is 32 signed bytes and every output row has an fp32 scale
/// (max |w| / 127); the products accumulate in fp32 and are scaled once at the end. <see cref="WeightFormat.Int8A16"/>
/// stores the same values and scales by k-pairs (K rounded up to even, the pad zero): k-pair p of a panel is 64 bytes,
/// outputs 0–15 then 16–31, each output's weights for k = 2p and 2p + 1 side by side
/// (<see cref="GemmKernels.Int8A16Offset"/>).</para>
/// </remarks>
internal sealed unsafe class PackedMatrix
{
    /// <summary>Width (outputs per panel) of the packed panels.</summary>
    public const int PanelWidth = GemmKernels.NR;

    private readonly float[] _data;
    private readonly int _offset;
    private readonly ushort[] _half;
    private readonly int _halfOffset;
    private readonly sbyte[] _bytes;
    private readonly int _byteOffset;
    private readonly float[] _scales;

    private PackedMatrix(int rows, int cols, WeightFormat format)
    {
        Rows = rows;
        Cols = cols;
        Format = format;
        PanelCount = (rows + PanelWidth - 1) / PanelWidth;
        long elements = (long)PanelCount * PanelWidth * cols;
        _data = [];
        _half = [];
        _bytes = [];
        _scales = [];
        switch (format)
        {
            case WeightFormat.Float32:
                _data = GC.AllocateArray<float>(checked((int)elements + 16), pinned: true);
                _offset = (int)(((64 - (Address(_data) & 63)) & 63) / sizeof(float));
                break;
            case WeightFormat.BFloat16:
                _half = GC.AllocateArray<ushort>(checked((int)elements + 32), pinned: true);
                _halfOffset = (int)(((64 - (Address(_half) & 63)) & 63) / sizeof(ushort));
                break;
            case WeightFormat.Int8:
            case WeightFormat.Int8A16:
                elements = (long)PanelCount * PanelWidth * GemmKernels.PairDepth(cols) * 2;
                _bytes = GC.AllocateArray<sbyte>(checked((int)elements + 64), pinned: true);
                _byteOffset = (int)((64 - (Address(_bytes) & 63)) & 63);
                _scales = GC.AllocateArray<float>((PanelCount * PanelWidth) + 16, pinned: true);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown weight format.");
        }
    }

    /// <summary>Number of rows of W (outputs of the linear map, N of the GEMM).</summary>
    public int Rows { get; }

    /// <summary>Number of columns of W (inputs of the linear map, K of the GEMM).</summary>
    public int Cols { get; }

    /// <summary>Number of <see cref="PanelWidth"/>-wide panels.</summary>
    public int PanelCount { get; }

    /// <summary>How the weights are stored.</summary>
    public WeightFormat Format { get; }

    /// <summary>Bytes of packed weights one product streams (panels incl. padding, plus the int8 scales).</summary>
    public long WeightBytes => Format switch
    {
        WeightFormat.BFloat16 => (long)PanelCount * PanelWidth * Cols * sizeof(ushort),
        WeightFormat.Int8 => ((long)PanelCount * PanelWidth * Cols) + (PanelCount * PanelWidth * sizeof(float)),
        WeightFormat.Int8A16 => ((long)PanelCount * PanelWidth * GemmKernels.PairDepth(Cols) * 2) + (PanelCount * PanelWidth * sizeof(float)),
        _ => (long)PanelCount * PanelWidth * Cols * sizeof(float),
    };

    /// <summary>Packs a row-major [<paramref name="rows"/>, <paramref name="cols"/>] matrix in fp32.</summary>
    public static PackedMatrix Pack(ReadOnlySpan<float> weights, int rows, int cols) => Pack(weights, rows, cols, WeightFormat.Float32);

    /// <summary>Packs a row-major [<paramref name="rows"/>, <paramref name="cols"/>] matrix in the given <paramref name="format"/>.</summary>
    /// <param name="weights">Row-major values, <paramref name="rows"/> × <paramref name="cols"/> of them.</param>
    /// <param name="rows">Outputs (N).</param>
    /// <param name="cols">Inputs (K).</param>
    /// <param name="format">Storage format; <see cref="WeightFormat.Float32"/> is exact.</param>
    public static PackedMatrix Pack(ReadOnlySpan<float> weights, int rows, int cols, WeightFormat format)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cols, 1);
        if (!Enum.IsDefined(format))
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown weight format (Float32, BFloat16, Int8 or Int8A16).");
        }

        if (format == WeightFormat.Int8A16)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(cols, GemmKernels.MaxInt8A16Depth);
        }

        var m = new PackedMatrix(rows, cols, format);
        m.Repack(weights);
        return m;
    }

    /// <summary>Re-packs new values of the same shape (after an optimizer step). Not thread-safe with readers. Allocation-free.</summary>
    public void Repack(ReadOnlySpan<float> weights)
    {
        CheckLength(weights);
        if (Format != WeightFormat.Float32)
        {
            PackLow(weights, 0, PanelCount);
            return;
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
    /// <param name="weights">Row-major values, <see cref="Rows"/> × <see cref="Cols"/> of them.</param>
    public void Repack(ComputeContext context, ReadOnlySpan<float> weights)
    {
        ArgumentNullException.ThrowIfNull(context);
        CheckLength(weights);
        if (Format != WeightFormat.Float32)
        {
            PackLow(weights, 0, PanelCount);
            return;
        }

        fixed (float* src = weights)
        {
            GemmKernels.PackPanelsParallel(context.MaxDegreeOfParallelism, src, Cols, 1, Rows, Cols, Data);
        }
    }

    /// <summary>
    /// Re-packs only rows [<paramref name="firstRow"/>, <paramref name="firstRow"/> + <paramref name="rowCount"/>) of W
    /// (whole panels: <paramref name="firstRow"/> a multiple of <see cref="PanelWidth"/>, and the range a multiple of it or
    /// reaching <see cref="Rows"/>). Other panels are untouched, so disjoint ranges may be packed concurrently (the
    /// optimizer packs each chunk it has just updated).
    /// </summary>
    /// <param name="weights">Row-major values of the whole matrix, <see cref="Rows"/> × <see cref="Cols"/> of them.</param>
    /// <param name="firstRow">First row to pack.</param>
    /// <param name="rowCount">Rows to pack.</param>
    public void RepackRows(ReadOnlySpan<float> weights, int firstRow, int rowCount)
    {
        CheckLength(weights);
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        ArgumentOutOfRangeException.ThrowIfLessThan(rowCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(firstRow + rowCount, Rows, nameof(rowCount));
        if (firstRow % PanelWidth != 0 || (rowCount % PanelWidth != 0 && firstRow + rowCount != Rows))
        {
            throw new ArgumentException(
                $"Rows [{firstRow}, {firstRow + rowCount}) are not whole panels of {PanelWidth} rows (matrix of {Rows} rows).", nameof(rowCount));
        }

        if (Format != WeightFormat.Float32)
        {
            PackLow(weights, firstRow / PanelWidth, (rowCount + PanelWidth - 1) / PanelWidth);
            return;
        }

        fixed (float* src = weights)
        {
            GemmKernels.PackPanels(src + ((nint)firstRow * Cols), Cols, 1, rowCount, Cols, Data + ((nint)firstRow * Cols));
        }
    }

    /// <summary>Copies W back out in row-major [<see cref="Rows"/>, <see cref="Cols"/>] order (the stored, possibly rounded values).</summary>
    public void CopyTo(Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, Rows * Cols, nameof(destination));
        for (int j = 0; j < Rows; j++)
        {
            long panel = (long)(j / PanelWidth) * Cols * PanelWidth;
            int c = j % PanelWidth;
            for (int p = 0; p < Cols; p++)
            {
                long at = panel + ((long)p * PanelWidth);
                destination[(j * Cols) + p] = Format switch
                {
                    WeightFormat.BFloat16 => LowPrecision.FromBFloat16(HalfData[at + LowPrecision.Bf16Slot(c)]),
                    WeightFormat.Int8 => ByteData[at + c] * _scales[j],
                    WeightFormat.Int8A16 => ByteData[PairAt(j, p)] * _scales[j],
                    _ => Data[at + c],
                };
            }
        }
    }

    /// <summary>Aligned pointer to the packed fp32 panels (the array is pinned for its lifetime).</summary>
    internal float* Data => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_data)) + _offset;

    /// <summary>Aligned pointer to the packed bf16 panels.</summary>
    internal ushort* HalfData => (ushort*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_half)) + _halfOffset;

    /// <summary>Aligned pointer to the packed int8 panels.</summary>
    internal sbyte* ByteData => (sbyte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_bytes)) + _byteOffset;

    /// <summary>The int8 row scales (PanelCount·32 of them, zero past <see cref="Rows"/>).</summary>
    internal float* Scales => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_scales));

    /// <summary>The low-precision operand for the kernels.</summary>
    internal GemmKernels.LowB Low => new(Format, Format == WeightFormat.BFloat16 ? HalfData : ByteData, Format is WeightFormat.Int8 or WeightFormat.Int8A16 ? Scales : null);

    /// <summary>Where weight (row <paramref name="j"/>, column <paramref name="p"/>) of an <see cref="WeightFormat.Int8A16"/> matrix is stored.</summary>
    private long PairAt(int j, int p) =>
        ((long)(j / PanelWidth) * GemmKernels.PairDepth(Cols) * 2 * PanelWidth) + ((long)(p / 2) * 2 * PanelWidth) + GemmKernels.Int8A16Offset(j % PanelWidth, p % 2);

    /// <summary>Keeps the pinned buffer reachable while a pointer from <see cref="Data"/> is in use.</summary>
    internal void KeepAlive()
    {
        GC.KeepAlive(_data);
        GC.KeepAlive(_half);
        GC.KeepAlive(_bytes);
        GC.KeepAlive(_scales);
    }

    private static nint Address<T>(T[] array) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));

    private void CheckLength(ReadOnlySpan<float> weights)
    {
        if (weights.Length != Rows * Cols)
        {
            throw new ArgumentException($"Expected {Rows}×{Cols} = {Rows * Cols} values, got {weights.Length}.", nameof(weights));
        }
    }

    private void PackLow(ReadOnlySpan<float> weights, int firstPanel, int panelCount)
    {
        int k = Cols;
        for (int jp = firstPanel; jp < firstPanel + panelCount; jp++)
        {
            long panel = (long)jp * k * PanelWidth;
            for (int c = 0; c < PanelWidth; c++)
            {
                int j = (jp * PanelWidth) + c;
                var row = j < Rows ? weights.Slice(j * k, k) : default;
                if (Format == WeightFormat.BFloat16)
                {
                    ushort* dst = HalfData + panel + LowPrecision.Bf16Slot(c);
                    for (int p = 0; p < k; p++)
                    {
                        dst[(long)p * PanelWidth] = j < Rows ? LowPrecision.ToBFloat16(row[p]) : (ushort)0;
                    }
                }
                else
                {
                    float scale = j < Rows ? LowPrecision.Int8Scale(row) : 0f;
                    _scales[j] = scale;
                    if (Format == WeightFormat.Int8A16)
                    {
                        for (int p = 0; p < 2 * GemmKernels.PairDepth(k); p++)
                        {
                            ByteData[PairAt(j, p)] = j < Rows && p < k ? LowPrecision.ToInt8(row[p], scale) : (sbyte)0;
                        }

                        continue;
                    }

                    sbyte* dst = ByteData + panel + c;
                    for (int p = 0; p < k; p++)
                    {
                        dst[(long)p * PanelWidth] = j < Rows ? LowPrecision.ToInt8(row[p], scale) : (sbyte)0;
                    }
                }
            }
        }
    }
}
