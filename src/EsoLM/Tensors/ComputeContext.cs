namespace EsoLM.Tensors;

/// <summary>
/// The compute seam: every kernel call of the model, the objective and the samplers goes through one of these,
/// so thread count and instruction set are chosen in one place (and a GPU backend has one place to plug in).
/// Instances are immutable and safe to share between threads.
/// </summary>
public sealed class ComputeContext
{
    /// <summary>A context using all cores and the widest accelerated SIMD width.</summary>
    public static ComputeContext Default { get; } = new();

    /// <summary>Creates a context.</summary>
    /// <param name="maxDegreeOfParallelism">Threads a kernel may use; -1 or 0 means <see cref="Environment.ProcessorCount"/>.</param>
    /// <param name="simd">The SIMD width; a width the CPU does not accelerate is an error.</param>
    public ComputeContext(int maxDegreeOfParallelism = -1, SimdLevel simd = SimdLevel.Auto)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDegreeOfParallelism, -1);
        MaxDegreeOfParallelism = maxDegreeOfParallelism <= 0 ? Environment.ProcessorCount : maxDegreeOfParallelism;
        Simd = Resolve(simd);
    }

    /// <summary>Threads a kernel may use (at least 1).</summary>
    public int MaxDegreeOfParallelism { get; }

    /// <summary>The resolved SIMD width (never <see cref="SimdLevel.Auto"/>).</summary>
    public SimdLevel Simd { get; }

    /// <summary>Returns the best width this CPU accelerates.</summary>
    public static SimdLevel BestAvailable =>
        System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? SimdLevel.Vector512
        : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated ? SimdLevel.Vector256
        : SimdLevel.Scalar;

    private static SimdLevel Resolve(SimdLevel simd)
    {
        switch (simd)
        {
            case SimdLevel.Auto:
                return BestAvailable;
            case SimdLevel.Vector512 when !System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated:
                throw new ArgumentOutOfRangeException(nameof(simd), simd, "Vector512 is not hardware-accelerated on this CPU.");
            case SimdLevel.Vector256 when !System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated:
                throw new ArgumentOutOfRangeException(nameof(simd), simd, "Vector256 is not hardware-accelerated on this CPU.");
            case SimdLevel.Vector512 or SimdLevel.Vector256 or SimdLevel.Scalar:
                return simd;
            default:
                throw new ArgumentOutOfRangeException(nameof(simd), simd, "Unknown SIMD level.");
        }
    }
}
