namespace EsoLM.TorchSharp;

/// <summary>Floating-point format of the matrix products on the device. Parameters, optimizer state, norms, softmax and losses stay fp32.</summary>
public enum TorchPrecision
{
    /// <summary>fp32 everywhere (the default; exact against the managed engine within 1e-4).</summary>
    Fp32,

    /// <summary>Matrix products and attention in bfloat16 (CUDA; Ampere or newer). Results differ from fp32 at the 1e-2 level.</summary>
    Bf16,

    /// <summary>Matrix products and attention in float16 (CUDA). Results differ from fp32 at the 1e-3 level.</summary>
    Fp16,
}

/// <summary>Settings of the TorchSharp backend.</summary>
public sealed record TorchBackendOptions
{
    /// <summary>The device: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c> (default <c>cpu</c>).</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Matrix-product precision (default fp32). Reduced precision is meant for CUDA.</summary>
    public TorchPrecision Precision { get; init; } = TorchPrecision.Fp32;

    /// <summary>Intra-op CPU threads for libtorch (null: libtorch's default). Applies process-wide.</summary>
    public int? CpuThreads { get; init; }

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        TorchRuntime.ParseDevice(Device);
        if (!Enum.IsDefined(Precision))
        {
            throw new ArgumentOutOfRangeException(nameof(Precision), Precision, "Unknown precision.");
        }

        if (CpuThreads is { } t && t < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(CpuThreads), t, "CpuThreads must be at least 1 (or null for libtorch's default).");
        }
    }
}
