using System.CommandLine;
using EsoLM.Cli.Commands;

namespace EsoLM.Cli;

/// <summary>Entry point of the <c>esolm</c> command.</summary>
public static class Program
{
    /// <summary>Builds the command tree (exposed so tests can run commands in-process).</summary>
    public static RootCommand BuildRootCommand()
    {
        var root = new RootCommand("esolm: Esoteric Language Models (Eso-LMs) for .NET — train, sample, evaluate, benchmark.");
        root.Subcommands.Add(CheckParityCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(SampleCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        return root;
    }

    /// <summary>Runs the command line.</summary>
    public static int Main(string[] args) => BuildRootCommand().Parse(args).Invoke();
}
