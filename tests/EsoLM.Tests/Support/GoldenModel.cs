using EsoLM.IO;
using EsoLM.Modeling;
using EsoLM.Tensors;

namespace EsoLM.Tests.Support;

/// <summary>The reference implementation's tiny model (golden config.json + weights.safetensors), loaded from ../shared.</summary>
internal static class GoldenModel
{
    private static readonly Lazy<ModelParameters> Parameters = new(() =>
        ReferenceImport.LoadSafetensors(Path.Combine(SharedData.Reference, "weights.safetensors"),
            ModelConfig.FromReferenceJson(File.ReadAllText(Path.Combine(SharedData.Reference, "config.json")))));

    /// <summary>A network over the golden weights (a fresh instance over shared, read-only parameters).</summary>
    public static DiffusionTransformer Create(ComputeContext? compute = null) => new(Parameters.Value, compute);
}
