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
        var k = arange(keys, ScalarType.Int32, device).reshape(1, 1, keys);
        var s0 = r.select(2, 0).unsqueeze(-1);
        var e0 = r.select(2, 1).unsqueeze(-1);
        var s1 = r.select(2, 2).unsqueeze(-1);
        var e1 = r.select(2, 3).unsqueeze(-1);
        var visible = k.ge(s0).logical_and(k.lt(e0)).logical_or(k.ge(s1).logical_and(k.lt(e1)));
        return visible.unsqueeze(1).MoveToOuterDisposeScope();
    }
}
