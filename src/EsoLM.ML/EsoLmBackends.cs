using EsoLM.Tensors;

namespace EsoLM.ML;

/// <summary>
/// Names of the compute backends an Eso-LM stage can run on (the <c>Backend</c> option of the estimators and
/// transformers). It is a string so that new backends can be added without breaking saved pipelines or code.
/// </summary>
public static class EsoLmBackends
{
    /// <summary>The default: the best backend available in this process (today the managed CPU engine).</summary>
    public const string Auto = "auto";

    /// <summary>The managed CPU engine (packed fp32 GEMM, AVX-512/AVX2/scalar, multithreaded by <c>Threads</c>).</summary>
    public const string Cpu = "cpu";

    /// <summary>The backends this build can run.</summary>
    public static IReadOnlyList<string> Available { get; } = [Auto, Cpu];

    /// <summary>Maps a backend name and a thread count onto the core's compute settings; throws on an unknown name.</summary>
    internal static ComputeContext CreateCompute(string? backend, int? threads, string paramName)
    {
        var name = string.IsNullOrWhiteSpace(backend) ? Auto : backend.Trim().ToLowerInvariant();
        if (threads is int t)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(t, 1, paramName);
        }

        return name switch
        {
            Auto or Cpu => threads is int n ? new ComputeContext(n) : ComputeContext.Default,
            _ => throw new ArgumentOutOfRangeException(paramName, backend,
                $"Unknown Eso-LM backend '{backend}'; this build offers: {string.Join(", ", Available)}."),
        };
    }
}
