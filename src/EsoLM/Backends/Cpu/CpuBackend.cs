using EsoLM.Modeling;
using EsoLM.Tensors;

namespace EsoLM.Backends.Cpu;

/// <summary>
/// The managed CPU backend (<c>cpu</c>, the default): float32 weights in managed arrays (packed in fp32, or in bf16 / int8 when chosen), packed once for the GEMM,
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
        : this(compute, WeightFormat.Float32)
    {
    }

    /// <summary>Creates a CPU backend whose networks pack their weight matrices in <paramref name="weights"/>.</summary>
    /// <param name="compute">Threads and SIMD width; null = <see cref="ComputeContext.Default"/>.</param>
    /// <param name="weights">Storage of the packed matrices: <see cref="WeightFormat.Float32"/> (exact, the default) or the
    /// faster, approximate <see cref="WeightFormat.BFloat16"/> / <see cref="WeightFormat.Int8"/> / <see cref="WeightFormat.Int8A16"/> for sampling and evaluation
    /// (products still accumulate in fp32; such networks cannot be trained).</param>
    public CpuBackend(ComputeContext? compute, WeightFormat weights)
        : this(compute, weights, WeightFormat.Float32)
    {
    }

    /// <summary>
    /// Creates a CPU backend whose networks pack their weight matrices in <paramref name="weights"/> and whose KV caches
    /// store keys and values in <paramref name="kvCache"/>.
    /// </summary>
    /// <param name="compute">Threads and SIMD width; null = <see cref="ComputeContext.Default"/>.</param>
    /// <param name="weights">Storage of the packed matrices (see <see cref="CpuBackend(ComputeContext?, WeightFormat)"/>).</param>
    /// <param name="kvCache">Storage of cached keys and values: <see cref="WeightFormat.Float32"/> (exact, the default) or
    /// <see cref="WeightFormat.BFloat16"/> (half the bytes every cached attention pass reads, which bounds batched sampling
    /// at long lengths; attention still accumulates in fp32). <see cref="WeightFormat.Int8"/> and <see cref="WeightFormat.Int8A16"/> are not cache formats.</param>
    public CpuBackend(ComputeContext? compute, WeightFormat weights, WeightFormat kvCache)
    {
        if (!Enum.IsDefined(weights))
        {
            throw new ArgumentOutOfRangeException(nameof(weights), weights, "Unknown weight format (Float32, BFloat16, Int8 or Int8A16).");
        }

        if (kvCache is not (WeightFormat.Float32 or WeightFormat.BFloat16))
        {
            throw new ArgumentOutOfRangeException(nameof(kvCache), kvCache, "A KV cache stores Float32 or BFloat16 entries.");
        }

        Compute = compute ?? ComputeContext.Default;
        Weights = weights;
        KvCache = kvCache;
        Description = new BackendDescription(BackendName, $"cpu ({Compute.Simd}, {Compute.MaxDegreeOfParallelism} threads)", DataTypeName(weights));
    }

    /// <summary>How the networks of this backend store their packed weight matrices.</summary>
    public WeightFormat Weights { get; }

    /// <summary>How the KV caches of this backend's networks store keys and values.</summary>
    public WeightFormat KvCache { get; }

    /// <summary>The data-type name of a weight format: <c>float32</c>, <c>bfloat16</c> or <c>int8</c>.</summary>
    /// <param name="weights">The format.</param>
    /// <returns>The name <see cref="BackendDescription.DataType"/> carries.</returns>
    public static string DataTypeName(WeightFormat weights) => weights switch
    {
        WeightFormat.BFloat16 => "bfloat16",
        WeightFormat.Int8 => "int8",
        WeightFormat.Int8A16 => "int8a16",
        _ => "float32",
    };

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
