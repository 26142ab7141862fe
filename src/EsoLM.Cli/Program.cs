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
        root.Subcommands.Add(ServeCommand.Create());
        return root;
    }

    /// <summary>Runs the command line.</summary>
    public static int Main(string[] args) => Run(args);

    /// <summary>
    /// Parses and runs <paramref name="args"/>. A failure is reported on stderr as one line, <c>esolm: error: …</c>, with
    /// exit code 1 — the library's exceptions already name the argument, the value and the limit, so a stack trace only
    /// adds noise (set <c>ESOLM_DEBUG=1</c> to see it).
    /// </summary>
    public static int Run(string[] args)
    {
        try
        {
            return BuildRootCommand().Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            var message = ex is OperationCanceledException ? "cancelled." : ex.Message;
            Console.Error.WriteLine($"esolm: error: {message}");
            if (Environment.GetEnvironmentVariable("ESOLM_DEBUG") == "1")
            {
                Console.Error.WriteLine(ex);
            }

            return 1;
        }
    }
}
