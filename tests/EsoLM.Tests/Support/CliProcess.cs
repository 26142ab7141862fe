using System.Diagnostics;

namespace EsoLM.Tests.Support;

/// <summary>
/// Runs the esolm command in a child process (the EsoLM.Cli.dll beside the test assembly), for cases that must not take
/// the test host down with them (stack overflow, out of memory, signals) or that need a GC heap hard limit. The timeout
/// only stops a hung child; tests assert on the exit code and the output, never on the time taken.
/// </summary>
internal static class CliProcess
{
    public static string CliPath => Path.Combine(AppContext.BaseDirectory, "EsoLM.Cli.dll");

    public static ProcessStartInfo StartInfo(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("exec");
        info.ArgumentList.Add(CliPath);
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment.Remove("ESOLM_DEBUG");
        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                info.Environment[k] = v;
            }
        }

        return info;
    }

    public static (int Code, string Stdout, string Stderr) Run(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null,
        int timeoutSeconds = 300)
    {
        using var process = Process.Start(StartInfo(args, environment))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return (-1, stdout.Result, "timed out (hung): " + stderr.Result);
        }

        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>A GC heap hard limit for a child (DOTNET_GCHeapHardLimit is read as hexadecimal).</summary>
    public static Dictionary<string, string> HeapLimit(long bytes) => new() { ["DOTNET_GCHeapHardLimit"] = bytes.ToString("X") };
}
