using System.CommandLine;

namespace EsoLM.Cli.Commands;

/// <summary><c>esolm check-parity</c> (placeholder until the model lands).</summary>
internal static class CheckParityCommand
{
    public static Command Create() => new("check-parity", "Compare the model with reference vectors.");
}
