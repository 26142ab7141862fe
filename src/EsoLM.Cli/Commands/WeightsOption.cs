using System.CommandLine;
using EsoLM.Tensors;

namespace EsoLM.Cli.Commands;

/// <summary>The shared <c>--weights fp32|bf16|int8|int8a16</c> option: how the network packs its weight matrices.</summary>
internal static class WeightsOption
{
    /// <summary>Creates the option (default fp32, exact).</summary>
    public static Option<string> Create() => new("--weights")
    {
        Description = "Weight storage: fp32 (exact, default), bf16 or int8 (faster sampling, approximate logits; fp32 accumulation), or int8a16 (int8 weights times 16-bit activations, exact integer sums: fastest for batches).",
        DefaultValueFactory = _ => "fp32",
    };

    /// <summary>Parses fp32 / bf16 / int8 / int8a16 (also float32, bfloat16, w8a16); a bad value is an <see cref="ArgumentException"/> naming the option.</summary>
    public static WeightFormat Parse(string? value, string option = "--weights") => value?.Trim().ToLowerInvariant() switch
    {
        "fp32" or "float32" or "f32" => WeightFormat.Float32,
        "bf16" or "bfloat16" => WeightFormat.BFloat16,
        "int8" or "i8" => WeightFormat.Int8,
        "int8a16" or "w8a16" => WeightFormat.Int8A16,
        _ => throw new ArgumentException($"{option}: '{value}' is not a weight format (expected fp32, bf16, int8 or int8a16).", option),
    };

    /// <summary>Creates the <c>--kv-cache fp32|bf16</c> option (default fp32, exact).</summary>
    public static Option<string> CreateKvCache() => new("--kv-cache")
    {
        Description = "KV-cache storage: fp32 (exact, default) or bf16 (half the bytes each cached attention pass reads; fp32 accumulation).",
        DefaultValueFactory = _ => "fp32",
    };

    /// <summary>Parses a <c>--kv-cache</c> value: fp32 or bf16; anything else is an <see cref="ArgumentException"/> naming the option.</summary>
    public static WeightFormat ParseKvCache(string? value, string option = "--kv-cache") => value?.Trim().ToLowerInvariant() switch
    {
        "fp32" or "float32" or "f32" => WeightFormat.Float32,
        "bf16" or "bfloat16" => WeightFormat.BFloat16,
        _ => throw new ArgumentException($"{option}: '{value}' is not a KV-cache format (expected fp32 or bf16).", option),
    };
}
