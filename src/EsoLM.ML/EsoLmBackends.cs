using EsoLM.Backends;

namespace EsoLM.ML;

/// <summary>
/// Names of the compute backends an Eso-LM stage can run on (the <c>Backend</c> option of the estimators and
/// transformers). It is a string so that new backends can be added without breaking saved pipelines or code: any name
/// registered in <see cref="ComputeBackendRegistry"/> works, e.g. <c>torch:cpu</c> or <c>torch:cuda:0</c> after
/// <c>EsoLM.TorchSharp.TorchBackendProvider.Register()</c> (EsoLM.ML itself does not depend on TorchSharp).
/// </summary>
public static class EsoLmBackends
{
    /// <summary>The default: the managed CPU engine (a GPU backend is never picked implicitly).</summary>
    public const string Auto = "auto";

    /// <summary>The managed CPU engine (packed fp32 GEMM, AVX-512/AVX2/scalar, multithreaded by <c>Threads</c>).</summary>
    public const string Cpu = "cpu";

    /// <summary>The backends this process can run now: <c>auto</c> plus every kind registered in <see cref="ComputeBackendRegistry"/>.</summary>
    public static IReadOnlyList<string> Available => [Auto, .. ComputeBackendRegistry.Usages];

    /// <summary>Checks a backend name and a thread count without creating the backend (no native library is loaded).</summary>
    internal static void Validate(string? backend, int? threads, string paramName)
    {
        if (threads is int t)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(t, 1, paramName);
        }

        ComputeBackendRegistry.Validate(Normalize(backend), paramName);
    }

    /// <summary>Creates the backend a name stands for, with <paramref name="threads"/> CPU threads (null = its default).</summary>
    internal static IComputeBackend Create(string? backend, int? threads, string paramName)
    {
        Validate(backend, threads, paramName);
        return ComputeBackendRegistry.Create(Normalize(backend), threads, paramName);
    }

    private static string Normalize(string? backend) =>
        string.IsNullOrWhiteSpace(backend) || string.Equals(backend.Trim(), Auto, StringComparison.OrdinalIgnoreCase) ? Cpu : backend;
}
