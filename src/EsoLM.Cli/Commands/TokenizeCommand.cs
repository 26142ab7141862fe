using System.CommandLine;

namespace EsoLM.Cli.Commands;

/// <summary><c>esolm tokenize</c> (placeholder until the tokenizers land).</summary>
internal static class TokenizeCommand
{
    public static Command Create() => new("tokenize", "Encode a text file and print the ids as a JSON array.");
}
