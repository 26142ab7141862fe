namespace EsoLM.Tests.Support;

/// <summary>
/// Runs the esolm command in-process with Console.Out/Error captured. Tests that use it belong to the non-parallel
/// <see cref="Text.ConsoleRedirection"/> collection, since the console is process-wide.
/// </summary>
internal static class CliRunner
{
    public static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var originalOut = Console.Out;
        var originalError = Console.Error;
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            var code = EsoLM.Cli.Program.Run(args);
            return (code, stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }
    }
}
