using EsoLM.Tests.Support;
using EsoLM.Tests.Text;

namespace EsoLM.Tests.Cli;

/// <summary>
/// This test project carries TorchSharp (through the CLI) but no libtorch, like the packed esolm tool: selecting the torch
/// backend must fail with one error line that names the fix, not TorchSharp's misleading loader trace.
/// </summary>
[Collection(ConsoleRedirection.Name)]
public sealed class TorchBackendMissingTests
{
    [Fact]
    public void Backend_torch_without_libtorch_is_one_error_line_naming_the_fix()
    {
        var (code, stdout, stderr) = CliRunner.Run("check-parity", "--golden", SharedData.Reference, "--backend", "torch:cpu", "--json");
        Assert.Equal(1, code);
        Assert.Equal(string.Empty, stdout);
        Assert.StartsWith("esolm: error: ", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("-p:EsoLmLibTorch=libtorch-cpu-linux-x64", stderr, StringComparison.Ordinal);
        Assert.Contains("(2.10.0) in the application project", stderr, StringComparison.Ordinal);
    }
}
