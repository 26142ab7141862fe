using EsoLM.Backends;

namespace EsoLM.TorchSharp;

/// <summary>
/// Makes the string <c>torch[:cpu|:cuda[:N]]</c> resolve to a <see cref="TorchBackend"/> wherever EsoLM takes a backend
/// by name: the ML.NET stages' <c>Backend</c> option and saved pipelines, the CLI's <c>--backend</c>. Call
/// <see cref="Register"/> once at start-up (it is idempotent). Creating the backend loads libtorch; validating a string does not.
/// </summary>
public sealed class TorchBackendProvider : IComputeBackendProvider
{
    private TorchBackendProvider()
    {
    }

    /// <summary>The provider (stateless).</summary>
    public static TorchBackendProvider Instance { get; } = new();

    /// <summary>The accepted strings.</summary>
    public const string UsageText = "torch[:cpu|:cuda[:N]]";

    /// <inheritdoc />
    public string Name => TorchBackend.BackendName;

    /// <inheritdoc />
    public string Usage => UsageText;

    /// <summary>Adds <c>torch</c> to <see cref="ComputeBackendRegistry"/> (again: no effect).</summary>
    public static void Register() => ComputeBackendRegistry.Register(Instance);

    /// <summary>The device a <c>torch</c> argument names: null (plain <c>torch</c>) = <c>cpu</c>.</summary>
    /// <param name="argument">The text after <c>torch:</c>.</param>
    /// <returns><c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</returns>
    public static string DeviceOf(string? argument) => string.IsNullOrWhiteSpace(argument) ? "cpu" : argument.Trim().ToLowerInvariant();

    /// <inheritdoc />
    public void ValidateArgument(string? argument)
    {
        try
        {
            TorchRuntime.ParseDevice(DeviceOf(argument));
        }
        catch (ArgumentException)
        {
            throw new ArgumentException($"unknown torch device '{argument}': use torch, torch:cpu, torch:cuda or torch:cuda:N.", nameof(argument));
        }
    }

    /// <inheritdoc />
    public IComputeBackend Create(string? argument, int? threads) =>
        new TorchBackend(new TorchBackendOptions { Device = DeviceOf(argument), CpuThreads = threads });
}
