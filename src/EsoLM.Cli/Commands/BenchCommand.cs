using System.CommandLine;

namespace EsoLM.Cli.Commands;

/// <summary><c>esolm bench</c> (placeholder until the kernel benchmark lands).</summary>
internal static class BenchCommand
{
    public static Command Create() => new("bench", "Benchmarks.");
}
