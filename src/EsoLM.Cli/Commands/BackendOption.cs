using System.CommandLine;
using EsoLM.Backends;
using EsoLM.Backends.Cpu;
using EsoLM.Tensors;
using EsoLM.TorchSharp;

namespace EsoLM.Cli.Commands;

/// <summary>
/// The shared <c>--backend NAME</c> option of train, sample, eval, bench and check-parity, and its resolution. Names are
/// parsed and resolved by the core's <see cref="ComputeBackendRegistry"/> (the parser the ML.NET stages use too); only
/// <c>cpu</c>'s SIMD width and weight storage, which the registry's string does not carry, are handled here.
/// </summary>
internal static class BackendOption
{
    static BackendOption() => TorchBackendProvider.Register();

    /// <summary>The backend names this build of the CLI knows.</summary>
    public static IReadOnlyList<string> Names => ComputeBackendRegistry.Usages;

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
        BackendSpec spec;
        try
        {
            spec = ComputeBackendRegistry.Validate(name, "--backend");
        }
        catch (ArgumentOutOfRangeException e)
        {
            // The registry's message names the value and the accepted forms (e.g. torch[:cpu|:cuda[:N]]).
            throw new ArgumentException($"--backend: {e.Message.Split(" (Parameter", 2)[0]}", nameof(name), e);
        }

        if (spec.Name == CpuBackend.BackendName)
        {
            return threads <= 0 && simd == SimdLevel.Auto && weights == WeightFormat.Float32 && kvCache == WeightFormat.Float32
                ? CpuBackend.Default
                : new CpuBackend(new ComputeContext(threads, simd), weights, kvCache);
        }

        if (kvCache != WeightFormat.Float32)
        {
            throw new ArgumentException($"--kv-cache {kvCache}: only the cpu backend stores its KV cache in another format than fp32.", nameof(kvCache));
        }

        try
        {
            return ComputeBackendRegistry.Create(spec.ToString(), threads > 0 ? threads : null, "--backend");
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
