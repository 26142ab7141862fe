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
            var parsed = BuildRootCommand().Parse(args);
            if (parsed.Errors.Count > 0)
            {
                // Unknown options, missing or malformed values: one line like every other error (help: esolm COMMAND --help).
                var errors = string.Join(" ", parsed.Errors.Select(e => e.Message.Trim()));
                Console.Error.WriteLine($"esolm: error: {errors} (see 'esolm {parsed.CommandResult.Command.Name} --help').");
                return 1;
            }

            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Console.Error.WriteLine($"esolm: error: {ErrorLine(ex)}");
            if (Environment.GetEnvironmentVariable("ESOLM_DEBUG") == "1")
            {
                Console.Error.WriteLine(ex);
            }

            return 1;
        }
    }

    /// <summary>
    /// The one-line form of an exception's message: without the framework's " (Parameter 'x')" and "Actual value was …"
    /// additions (our messages already name the setting and the value), line breaks folded into spaces.
    /// </summary>
    internal static string ErrorLine(Exception ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        if (ex is OperationCanceledException)
        {
            return "cancelled.";
        }

        var message = ex.Message;
        if (ex is ArgumentException argument)
        {
            string? actual = null;
            if (argument is ArgumentOutOfRangeException { ActualValue: { } value })
            {
                int cut = message.LastIndexOf(Environment.NewLine, StringComparison.Ordinal);
                message = cut >= 0 ? message[..cut] : message;
                actual = Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture);
            }

            if (argument.ParamName is { } name)
            {
                var suffix = $" (Parameter '{name}')";
                if (message.EndsWith(suffix, StringComparison.Ordinal))
                {
                    message = message[..^suffix.Length];
                }
            }

            if (actual is not null && !message.Contains(actual, StringComparison.Ordinal))
            {
                message = $"{message.TrimEnd()} (got {actual})";
            }
        }

        var parts = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return string.Join(' ', parts);
    }
}
