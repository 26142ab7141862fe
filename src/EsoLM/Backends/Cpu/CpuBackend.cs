using EsoLM.Modeling;
using EsoLM.Tensors;

namespace EsoLM.Backends.Cpu;

/// <summary>
/// The managed CPU backend (<c>cpu</c>, the default): float32 weights in managed arrays, packed once for the GEMM,
/// AVX-512 / AVX2 / scalar kernels over a worker pool. <see cref="Load"/> adopts the host parameters without copying
/// them, so the network and the caller share the arrays.
/// </summary>
public sealed class CpuBackend : IComputeBackend
{
    /// <summary>The selection key of this backend.</summary>
    public const string BackendName = "cpu";

    /// <summary>A backend using all cores and the widest SIMD width the CPU accelerates.</summary>
    public static CpuBackend Default { get; } = new();

    /// <summary>Creates a CPU backend.</summary>
    /// <param name="compute">Threads and SIMD width; null = <see cref="ComputeContext.Default"/>.</param>
    public CpuBackend(ComputeContext? compute = null)
    {
        Compute = compute ?? ComputeContext.Default;
        Description = new BackendDescription(BackendName, $"cpu ({Compute.Simd}, {Compute.MaxDegreeOfParallelism} threads)", "float32");
    }

    /// <summary>Threads and SIMD width of the kernels.</summary>
    public ComputeContext Compute { get; }

    /// <inheritdoc />
    public string Name => BackendName;

    /// <inheritdoc />
    public BackendDescription Description { get; }

    /// <inheritdoc />
    public INetwork Load(ModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return new DiffusionTransformer(parameters, this);
    }
}
