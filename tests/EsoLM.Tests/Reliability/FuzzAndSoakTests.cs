using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;

namespace EsoLM.Tests.Reliability;

/// <summary>
/// The fuzzers and the soak test (issue 15), each run as a seeded child process (tests/EsoLM.Fuzz) under a GC heap hard
/// limit, so an unbounded allocation fails the case instead of the machine. Each prints its counts to the test output.
/// The process timeout only stops a hung child.
/// </summary>
public sealed class FuzzAndSoakTests(ITestOutputHelper output)
{
    private const int Seed = 20261203;

    [Fact]
    public void Mutated_model_files_end_in_documented_exceptions() => Fuzz("model-files", 10_000, 384L << 20);

    [Fact]
    public void Mutated_tokenizer_descriptions_end_in_documented_exceptions() => Fuzz("tokenizers", 3_000, 384L << 20);

    [Fact]
    public void Random_command_lines_end_in_a_result_or_one_error_line() => Fuzz("cli", 400, 512L << 20);

    [Fact]
    public void Chat_soak_concurrent_equals_sequential_and_the_heap_stays_flat() => Fuzz("soak", 5_000, 512L << 20);

    private void Fuzz(string fuzzer, int cases, long heapLimit)
    {
        var work = Directory.CreateTempSubdirectory($"esolm-fuzz-{fuzzer}-").FullName;
        try
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "exec", Path.Combine(AppContext.BaseDirectory, "EsoLM.Fuzz.dll"), fuzzer, Seed.ToString(), cases.ToString(), work })
            {
                info.ArgumentList.Add(a);
            }

            info.Environment["DOTNET_GCHeapHardLimit"] = heapLimit.ToString("X");
            info.Environment.Remove("ESOLM_DEBUG");
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"the {fuzzer} fuzzer hung (no summary after 10 minutes)");
            }

            process.WaitForExit();
            var text = stdout.GetAwaiter().GetResult().Trim();
            var err = stderr.GetAwaiter().GetResult();
            Assert.True(process.ExitCode == 0, $"the {fuzzer} fuzzer crashed (exit {process.ExitCode}): {err}");
            output.WriteLine(text);
            using var summary = JsonDocument.Parse(text.Split('\n')[^1]);
            var root = summary.RootElement;
            Assert.Equal(cases, root.GetProperty("cases").GetInt32());
            Assert.True(root.GetProperty("failures").GetInt32() == 0, text);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
