using System.CommandLine;
using EsoLM.Backends;
using EsoLM.Backends.Cpu;
using EsoLM.Tensors;
using EsoLM.TorchSharp;

namespace EsoLM.Cli.Commands;

/// <summary>The shared <c>--backend NAME</c> option of train, sample, eval, bench and check-parity, and its resolution.</summary>
internal static class BackendOption
{
    /// <summary>The backend names this build of the CLI knows.</summary>
    public static IReadOnlyList<string> Names { get; } = [CpuBackend.BackendName, "torch[:cpu|:cuda[:N]]"];

    /// <summary>Creates the option (default <c>cpu</c>).</summary>
    public static Option<string> Create() => new("--backend")
    {
        Description = $"Compute backend: {string.Join(", ", Names)} (default: cpu, the managed engine; torch needs a CLI built with -p:EsoLmLibTorch=<libtorch package>).",
        DefaultValueFactory = _ => CpuBackend.BackendName,
    };

    /// <summary>Resolves a backend by name with the given CPU threads (-1 = all cores) and SIMD width.</summary>
    public static IComputeBackend Resolve(string? name, int threads, SimdLevel simd = SimdLevel.Auto) => Resolve(name, threads, simd, WeightFormat.Float32);

    /// <summary>Resolves a backend by name with the given CPU threads, SIMD width and weight storage (<c>--weights</c>).</summary>
    public static IComputeBackend Resolve(string? name, int threads, SimdLevel simd, WeightFormat weights) =>
        Resolve(name, threads, simd, weights, WeightFormat.Float32);

    /// <summary>Resolves a backend with the given weight storage and KV-cache storage (<c>--kv-cache</c>; CPU backend only).</summary>
    public static IComputeBackend Resolve(string? name, int threads, SimdLevel simd, WeightFormat weights, WeightFormat kvCache)
    {
        var key = string.IsNullOrWhiteSpace(name) ? CpuBackend.BackendName : name.Trim().ToLowerInvariant();
        if (key == TorchBackend.BackendName || key.StartsWith(TorchBackend.BackendName + ":", StringComparison.Ordinal))
        {
            if (kvCache != WeightFormat.Float32)
            {
                throw new ArgumentException($"--kv-cache {kvCache}: only the cpu backend stores its KV cache in another format than fp32.", nameof(kvCache));
            }

            return Torch(key.Length > TorchBackend.BackendName.Length ? key[(TorchBackend.BackendName.Length + 1)..] : "cpu", threads);
        }

        return key switch
        {
            CpuBackend.BackendName => threads <= 0 && simd == SimdLevel.Auto && weights == WeightFormat.Float32 && kvCache == WeightFormat.Float32
                ? CpuBackend.Default
                : new CpuBackend(new ComputeContext(threads, simd), weights, kvCache),
            _ => throw new ArgumentException($"--backend '{name}' is not available; this build knows: {string.Join(", ", Names)}.", nameof(name)),
        };
    }

    private static TorchBackend Torch(string device, int threads)
    {
        try
        {
            TorchRuntime.ParseDevice(device);
        }
        catch (ArgumentException)
        {
            throw new ArgumentOutOfRangeException(nameof(device), device, $"--backend torch:{device}: unknown device; use torch, torch:cpu, torch:cuda or torch:cuda:N.");
        }

        try
        {
            return new TorchBackend(new TorchBackendOptions { Device = device, CpuThreads = threads > 0 ? threads : null });
        }
        catch (TorchBackendUnavailableException e)
        {
            throw new TorchBackendUnavailableException(
                "--backend torch: libtorch is not available to this build of esolm (the CLI does not carry libtorch by default). " +
                "Fix: build it with a libtorch package, e.g. `dotnet run -c Release --project src/EsoLM.Cli -p:EsoLmLibTorch=libtorch-cpu-linux-x64 -- …` " +
                "(or -p:EsoLmLibTorch=libtorch-cuda-12.8-linux-x64 on a CUDA machine); see docs/gpu.md. Details: " + e.Message, e);
        }
    }
}
