using System.CommandLine;
using EsoLM.Backends;
using EsoLM.Backends.Cpu;
using EsoLM.Tensors;

namespace EsoLM.Cli.Commands;

/// <summary>The shared <c>--backend NAME</c> option of train, sample, eval, bench and check-parity, and its resolution.</summary>
internal static class BackendOption
{
    /// <summary>The backend names this build of the CLI knows.</summary>
    public static IReadOnlyList<string> Names { get; } = [CpuBackend.BackendName];

    /// <summary>Creates the option (default <c>cpu</c>).</summary>
    public static Option<string> Create() => new("--backend")
    {
        Description = $"Compute backend: {string.Join(", ", Names)} (default: cpu, the managed engine).",
        DefaultValueFactory = _ => CpuBackend.BackendName,
    };

    /// <summary>Resolves a backend by name with the given CPU threads (-1 = all cores) and SIMD width.</summary>
    public static IComputeBackend Resolve(string? name, int threads, SimdLevel simd = SimdLevel.Auto)
    {
        var key = string.IsNullOrWhiteSpace(name) ? CpuBackend.BackendName : name.Trim().ToLowerInvariant();
        return key switch
        {
            CpuBackend.BackendName => threads <= 0 && simd == SimdLevel.Auto ? CpuBackend.Default : new CpuBackend(new ComputeContext(threads, simd)),
            _ => throw new ArgumentException($"--backend '{name}' is not available; this build knows: {string.Join(", ", Names)}.", nameof(name)),
        };
    }
}
