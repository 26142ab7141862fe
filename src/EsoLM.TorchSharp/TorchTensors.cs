using TorchSharp;
using static TorchSharp.torch;

namespace EsoLM.TorchSharp;

/// <summary>Host/device copies.</summary>
internal static class TorchTensors
{
    /// <summary>Copies a float32 tensor (any device) into <paramref name="destination"/> (its element count must fit).</summary>
    public static void CopyToHost(Tensor source, Span<float> destination)
    {
        using var cpu = source.detach().to(ScalarType.Float32, CPU).contiguous();
        long n = cpu.numel();
        if (destination.Length < n)
        {
            throw new ArgumentException($"The destination holds {destination.Length} values; the tensor has {n}.", nameof(destination));
        }

        // The raw bytes of the contiguous CPU tensor (TensorAccessor copies element by element, far slower for vocab-wide rows).
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(cpu.bytes)[..(int)n].CopyTo(destination);
    }

    /// <summary>
    /// Rows of <paramref name="source"/> at the int64 indices <paramref name="index"/> (dimension 0), as
    /// <c>index_select</c> gives them; written as advanced indexing because that op, unlike <c>index_select</c>, has a
    /// meta-device kernel in libtorch, which the tests use to prove that the passes never read device memory on the host.
    /// </summary>
    public static Tensor Rows(Tensor source, Tensor index) => source.index(TensorIndex.Tensor(index));

    /// <summary>A float32 host copy.</summary>
    public static float[] ToArray(Tensor source)
    {
        var a = new float[source.numel()];
        CopyToHost(source, a);
        return a;
    }

    /// <summary>An int64 device tensor from host ints.</summary>
    public static Tensor Longs(ReadOnlySpan<int> values, Device device, params long[] shape)
    {
        var a = new long[values.Length];
        for (int i = 0; i < a.Length; i++)
        {
            a[i] = values[i];
        }

        return tensor(a, shape.Length == 0 ? [a.Length] : shape, ScalarType.Int64, device);
    }

    /// <summary>
    /// The boolean attention mask [B, 1, n, K] built on the device from per-row key ranges ([B·n, 4] int32 on the host:
    /// start0, end0, start1, end1): key k is visible when it lies in either range.
    /// </summary>
    public static Tensor MaskFromRanges(int[] ranges, long batch, long rows, long keys, Device device)
    {
        using var scope = NewDisposeScope();
        var r = tensor(ranges, [batch, rows, 4], ScalarType.Int32, device);
        return MaskFromRanges(r, keys).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The boolean attention mask [B, 1, n, K] from key ranges already on the device ([B, n, 4], any integer type):
    /// key k is visible when it lies in [start0, end0) or [start1, end1). Device-only work: no host copy.
    /// </summary>
    public static Tensor MaskFromRanges(Tensor ranges, long keys)
    {
        using var scope = NewDisposeScope();
        var k = arange(keys, ranges.dtype, ranges.device).reshape(1, 1, keys);
        var s0 = ranges.select(2, 0).unsqueeze(-1);
        var e0 = ranges.select(2, 1).unsqueeze(-1);
        var s1 = ranges.select(2, 2).unsqueeze(-1);
        var e1 = ranges.select(2, 3).unsqueeze(-1);
        // bitwise ops on bool (the same result as logical_and/or) have meta kernels, so the mask builds on the meta device too.
        var visible = k.ge(s0).bitwise_and(k.lt(e0)).bitwise_or(k.ge(s1).bitwise_and(k.lt(e1)));
        return visible.unsqueeze(1).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Host int64 values that a device pass needs, gathered into one array so that they reach the device in one copy (on CUDA
/// each separate host-to-device copy from pageable memory waits for the stream). Parts are appended, uploaded once with
/// <see cref="Upload"/>, then read back as device views by their offsets.
/// </summary>
internal sealed class HostUpload
{
    private readonly List<long> _values = [];

    /// <summary>Appends values and returns their offset.</summary>
    public int Add(ReadOnlySpan<long> values)
    {
        int offset = _values.Count;
        foreach (var v in values)
        {
            _values.Add(v);
        }

        return offset;
    }

    /// <summary>Appends int values (widened) and returns their offset.</summary>
    public int Add(ReadOnlySpan<int> values)
    {
        int offset = _values.Count;
        foreach (var v in values)
        {
            _values.Add(v);
        }

        return offset;
    }

    /// <summary>Copies everything to the device in one transfer: an int64 vector.</summary>
    public Tensor Upload(Device device) => tensor(_values.ToArray(), ScalarType.Int64, device);

    /// <summary>A view of <paramref name="length"/> values at <paramref name="offset"/> of the uploaded vector.</summary>
    public static Tensor Part(Tensor uploaded, int offset, long length) => uploaded.narrow(0, offset, length);
}

/// <summary>
/// Device-to-host copies of the logits rows a sampler asked for. On CUDA they go through a page-locked (pinned) host
/// buffer kept across calls, which the GPU writes by DMA (a pageable destination would add a staging copy in the
/// driver); on the CPU device they are a plain copy. Thread-safe.
/// </summary>
internal sealed class HostStaging : IDisposable
{
    private readonly Lock _gate = new();
    private Tensor? _buffer;
    private bool _pinningFailed;

    /// <summary>Whether the last CUDA copy used the pinned buffer (false on the CPU device or when pinning failed).</summary>
    public bool UsedPinnedMemory { get; private set; }

    /// <summary>Copies a tensor on any device into <paramref name="destination"/> as float32.</summary>
    public void CopyToHost(Tensor source, Span<float> destination)
    {
        long n = source.numel();
        if (destination.Length < n)
        {
            throw new ArgumentException($"The destination holds {destination.Length} values; the tensor has {n}.", nameof(destination));
        }

        if (source.device_type != DeviceType.CUDA || _pinningFailed)
        {
            TorchTensors.CopyToHost(source, destination);
            return;
        }

        lock (_gate)
        {
            if (_buffer is null || _buffer.numel() < n)
            {
                long size = Math.Max(n, 2 * (_buffer?.numel() ?? 0));
                _buffer?.Dispose();
                _buffer = null;
                try
                {
                    using var plain = empty([size], ScalarType.Float32, CPU);
                    _buffer = plain.pin_memory().DetachFromDisposeScope();
                }
                catch (System.Runtime.InteropServices.ExternalException)
                {
                    // No pinned allocator (e.g. a CUDA driver without page-locking rights): keep the plain path.
                    _pinningFailed = true;
                    UsedPinnedMemory = false;
                    TorchTensors.CopyToHost(source, destination);
                    return;
                }
            }

            using (var view = _buffer.narrow(0, 0, n))
            using (var flat = source.detach().reshape(-1))
            {
                // Blocking copy into pinned memory: one DMA transfer, then the stream is synchronised (the only wait of a forward).
                view.copy_(flat);
            }

            System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(_buffer.bytes)[..(int)n].CopyTo(destination);
            UsedPinnedMemory = true;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            _buffer?.Dispose();
            _buffer = null;
        }
    }
}
