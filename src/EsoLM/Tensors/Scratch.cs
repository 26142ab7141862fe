namespace EsoLM.Tensors;

/// <summary>
/// Per-thread, 64-byte-aligned float scratch buffers on the pinned object heap. They grow on demand and are then
/// reused, so kernels allocate nothing after warm-up. A slot must not be requested again while its pointer is in use.
/// </summary>
internal static unsafe class Scratch
{
    /// <summary>Packed A block (GEMM).</summary>
    public const int PackA = 0;

    /// <summary>Edge tile (GEMM).</summary>
    public const int Tile = 1;

    /// <summary>Packed B panels (general GEMM).</summary>
    public const int PackB = 2;

    /// <summary>Attention scores.</summary>
    public const int Scores = 3;

    /// <summary>Packed keys (blocked attention).</summary>
    public const int AttnKeys = 4;

    /// <summary>Packed values (blocked attention).</summary>
    public const int AttnValues = 5;

    /// <summary>Packed query or probability block (blocked attention).</summary>
    public const int AttnPack = 6;

    /// <summary>Output block (blocked attention).</summary>
    public const int AttnOut = 7;

    /// <summary>A low-precision weight block widened to fp32 (GEMM).</summary>
    public const int Widened = 8;

    /// <summary>A packed once by the calling thread and read by every task of one small-M GEMM.</summary>
    public const int SharedA = 9;

    /// <summary>bfloat16 cached keys widened to fp32 (attention over a bf16 KV cache).</summary>
    public const int WideKeys = 10;

    /// <summary>bfloat16 cached values widened to fp32 (attention over a bf16 KV cache).</summary>
    public const int WideValues = 11;

    /// <summary>Activations quantized to 16-bit words, and their row scales (int8a16 products).</summary>
    public const int IntActivations = 12;

    private const int SlotCount = 13;

    [ThreadStatic]
    private static float[]?[]? _buffers;

    /// <summary>Returns an aligned pointer to at least <paramref name="count"/> floats of the calling thread's slot.</summary>
    public static float* Get(int slot, int count)
    {
        var buffers = _buffers ??= new float[SlotCount][];
        var buffer = buffers[slot];
        if (buffer is null || buffer.Length < count + 16)
        {
            buffer = GC.AllocateUninitializedArray<float>(Math.Max(count + 16 + (count / 4), 1024), pinned: true);
            buffers[slot] = buffer;
        }

        // Pinned-object-heap arrays never move, so the address is stable for the buffer's lifetime.
        float* p = (float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(buffer));
        nint misalign = (nint)p & 63;
        return misalign == 0 ? p : (float*)((byte*)p + (64 - misalign));
    }
}
