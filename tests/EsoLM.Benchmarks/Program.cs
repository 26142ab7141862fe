using BenchmarkDotNet.Running;

namespace EsoLM.Benchmarks;

/// <summary>
/// Runs the BenchmarkDotNet suites: <c>dotnet run -c Release --project tests/EsoLM.Benchmarks -- --filter *</c>,
/// or a quick GFLOP/s check: <c>… -- quick [threads] [MxKxN ...]</c>, or the training attention
/// microbenchmark: <c>… -- attnbwd [rounds] [L]</c>, or the decoding attention microbenchmark: <c>… -- attndec [rounds] [keys] [kernel] [cached]</c>, or the quality of a weight / KV-cache format against fp32: <c>… -- quality MODEL [weights] [kv-cache]</c>,
/// or the small-M (sampler) products: <c>… -- smallm [rounds] [threads] [MxKxN ...] [v256]</c>, or the same products in the batch-16 sampler's
/// order against hot weights: <c>… -- samplerorder [passes] [threads] [flushMB]</c>, or the packing of their A operand:
/// <c>… -- packa [reps]</c>.
/// </summary>
public static class Program
{
    /// <summary>Entry point.</summary>
    public static void Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "packa")
        {
            PackAQuick.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "quick")
        {
            Quick.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "attnbwd")
        {
            AttentionBackwardQuick.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "samplerorder")
        {
            SamplerOrderQuick.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "smallm")
        {
            SmallMQuick.Run(args);
            return;
        }

        if (args.Length > 1 && (args[0] == "kvquality" || args[0] == "quality"))
        {
            FormatQuality.Run(args);
            return;
        }

        if (args.Length > 0 && args[0] == "attndec")
        {
            AttentionDecodeQuick.Run(args);
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
