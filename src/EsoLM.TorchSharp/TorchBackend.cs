using System.Globalization;
using EsoLM.Backends;
using EsoLM.Modeling;
using TorchSharp;

namespace EsoLM.TorchSharp;

/// <summary>
/// The TorchSharp compute backend (<c>torch</c>): Eso-LM networks on a CUDA GPU or on the CPU through libtorch. fp32 by
/// default (logits within 1e-4 of the managed <c>cpu</c> backend, the same sampled tokens at the same seeds); optional
/// bf16/fp16 matrix products on CUDA. The application references a libtorch package (see docs/gpu.md).
/// </summary>
public sealed class TorchBackend : IComputeBackend
{
    /// <summary>The selection key of this backend.</summary>
    public const string BackendName = "torch";

    /// <summary>Creates the backend; loads libtorch for the device now, so a missing libtorch fails here with the fix.</summary>
    public TorchBackend(TorchBackendOptions? options = null)
    {
        Options = options ?? new TorchBackendOptions();
        Options.Validate();
        var device = TorchRuntime.GetDevice(Options.Device);
        if (Options.CpuThreads is { } threads)
        {
            TorchRuntime.SetCpuThreads(threads);
        }

        string where = device.type == DeviceType.CUDA
            ? string.Create(CultureInfo.InvariantCulture, $"cuda:{device.index}")
            : string.Create(CultureInfo.InvariantCulture, $"cpu (libtorch, {torch.get_num_threads()} threads)");
        string dtype = Options.Precision switch
        {
            TorchPrecision.Bf16 => "float32 (bf16 matmuls)",
            TorchPrecision.Fp16 => "float32 (fp16 matmuls)",
            _ => "float32",
        };
        Description = new BackendDescription(BackendName, where, dtype);
    }

    /// <summary>Creates the backend for a device: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    public TorchBackend(string device)
        : this(new TorchBackendOptions { Device = device })
    {
    }

    /// <summary>The settings.</summary>
    public TorchBackendOptions Options { get; }

    /// <inheritdoc />
    public string Name => BackendName;

    /// <inheritdoc />
    public BackendDescription Description { get; }

    /// <inheritdoc />
    public INetwork Load(ModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return new TorchNetwork(this, parameters);
    }
}
