using EsoLM.Tensors;
using Xunit;

namespace EsoLM.Tests.Tensors;

/// <summary>
/// The register-widening 8-row tiles for bf16 / int8 weights (16 or 32 rows of batched sampling): bit for bit the same
/// as widening each block into a buffer and running the fp32 tile, on every thread count, with bias, accumulation, a
/// ragged last panel and depths past one cache block. (Closeness to plain loops over the rounded weights is
/// <see cref="LowPrecisionGemmTests"/>.)
/// </summary>
public sealed unsafe class LowPrecisionTileTests
{
    private static readonly (int M, int K, int N)[] Shapes =
    [
        (8, 1, 32), (8, 7, 65), (16, 384, 130), (16, 384, 1152), (32, 300, 96), (32, 1536, 384), (40, 257, 33), (64, 520, 64),
    ];

    [Theory]
    [InlineData(WeightFormat.BFloat16)]
    [InlineData(WeightFormat.Int8)]
    public void Register_widened_tiles_equal_buffer_widened_tiles_bit_for_bit(WeightFormat format)
    {
        if (!GemmKernels.FusedLowTiles(SimdLevel.Vector512, 8, format, 16) || !TensorTestData.Levels().Contains(SimdLevel.Vector512))
        {
            return; // the register-widening tiles exist only on Vector512 hardware
        }

        int seed = 700;
        foreach (var (m, k, n) in Shapes)
        {
            Assert.Equal(8, GemmKernels.MicroRows(SimdLevel.Vector512, m));
            var a = TensorTestData.Random(m * k, seed++);
            var w = TensorTestData.Random(n * k, seed++);
            var bias = TensorTestData.Random(n, seed++);
            var packed = PackedMatrix.Pack(w, n, k, format);
            foreach (bool withBias in new[] { false, true })
            {
                foreach (bool accumulate in new[] { false, true })
                {
                    var initial = TensorTestData.Random(m * n, seed++);
                    var buffered = Run(1, a, m, packed, withBias ? bias : null, initial, accumulate, fusedTiles: false);
                    foreach (int threads in new[] { 1, 2, 3 })
                    {
                        var registers = Run(threads, a, m, packed, withBias ? bias : null, initial, accumulate, fusedTiles: true);
                        for (int i = 0; i < buffered.Length; i++)
                        {
                            Assert.True(BitConverter.SingleToUInt32Bits(buffered[i]) == BitConverter.SingleToUInt32Bits(registers[i]),
                                $"{format} {m}x{k}x{n} bias={withBias} acc={accumulate} {threads}t: element {i} {buffered[i]:R} vs {registers[i]:R}");
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void Register_widened_tiles_are_used_only_for_eight_row_low_precision_tiles()
    {
        Assert.False(GemmKernels.FusedLowTiles(SimdLevel.Vector512, 12, WeightFormat.BFloat16, 24));
        Assert.False(GemmKernels.FusedLowTiles(SimdLevel.Vector512, 8, WeightFormat.Float32, 16));
        Assert.False(GemmKernels.FusedLowTiles(SimdLevel.Vector256, 8, WeightFormat.BFloat16, 16));
        Assert.False(GemmKernels.FusedLowTiles(SimdLevel.Vector512, 8, WeightFormat.Int8, 32)); // four tiles: the buffer is faster
    }

    private static float[] Run(int threads, float[] a, int m, PackedMatrix w, float[]? bias, float[] initial, bool accumulate, bool fusedTiles)
    {
        var c = (float[])initial.Clone();
        fixed (float* pa = a)
        fixed (float* pc = c)
        fixed (float* pb = bias)
        {
            GemmKernels.MultiplyLow(threads, SimdLevel.Vector512, pa, w.Low, pc, bias == null ? null : pb, m, w.Rows, w.Cols, accumulate, fusedTiles);
        }

        w.KeepAlive();
        return c;
    }
}
