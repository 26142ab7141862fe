using System.CommandLine;
using EsoLM.Tensors;

namespace EsoLM.Cli.Commands;

/// <summary>The shared <c>--weights fp32|bf16|int8</c> option: how the network packs its weight matrices.</summary>
internal static class WeightsOption
{
    /// <summary>Creates the option (default fp32, exact).</summary>
    public static Option<string> Create() => new("--weights")
    {
        Description = "Weight storage: fp32 (exact, default), bf16 or int8 (faster sampling, approximate logits; fp32 accumulation).",
        DefaultValueFactory = _ => "fp32",
    };

    /// <summary>Parses fp32 / bf16 / int8 (also float32, bfloat16); a bad value is an <see cref="ArgumentException"/> naming the option.</summary>
    public static WeightFormat Parse(string? value, string option = "--weights") => value?.Trim().ToLowerInvariant() switch
    {
        "fp32" or "float32" or "f32" => WeightFormat.Float32,
        "bf16" or "bfloat16" => WeightFormat.BFloat16,
        "int8" or "i8" => WeightFormat.Int8,
        _ => throw new ArgumentException($"{option}: '{value}' is not a weight format (expected fp32, bf16 or int8).", option),
    };
}
