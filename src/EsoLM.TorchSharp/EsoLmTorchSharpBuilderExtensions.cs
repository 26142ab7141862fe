using EsoLM.Backends;
using EsoLM.Hosting;
using EsoLM.Modeling;
using EsoLM.TorchSharp;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Selects the TorchSharp backend in <c>services.AddEsoLm()</c>.</summary>
public static class EsoLmTorchSharpBuilderExtensions
{
    /// <summary>
    /// Registers the TorchSharp backend under the key <c>torch</c> on <paramref name="device"/> (<c>cpu</c>, <c>cuda</c>,
    /// <c>cuda:N</c>) and makes it the model's backend (<c>EsoLmOptions.Backend = "torch"</c>). libtorch is loaded when the
    /// model is first resolved; a missing libtorch fails then with a <see cref="TorchBackendUnavailableException"/> naming the fix.
    /// </summary>
    public static IEsoLmBuilder UseTorchSharp(this IEsoLmBuilder builder, string device = "cpu")
    {
        ArgumentNullException.ThrowIfNull(device);
        return builder.UseTorchSharp(new TorchBackendOptions { Device = device });
    }

    /// <summary>Registers the TorchSharp backend with <paramref name="options"/> under the key <c>torch</c> and selects it.</summary>
    public static IEsoLmBuilder UseTorchSharp(this IEsoLmBuilder builder, TorchBackendOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        TorchBackendProvider.Register(); // so that backend names ("torch:cuda") resolve in this process too
        builder.AddBackend(TorchBackend.BackendName, new DeferredTorchBackend(options));
        builder.Services.Configure<EsoLmOptions>(o => o.Backend = TorchBackend.BackendName);
        return builder;
    }

    /// <summary>Creates the real backend (and loads libtorch) on first use, so registration never touches native code.</summary>
    private sealed class DeferredTorchBackend(TorchBackendOptions options) : IComputeBackend
    {
        private readonly Lazy<TorchBackend> _backend = new(() => new TorchBackend(options));

        public string Name => TorchBackend.BackendName;

        public BackendDescription Description => _backend.Value.Description;

        public INetwork Load(ModelParameters parameters) => _backend.Value.Load(parameters);
    }
}
