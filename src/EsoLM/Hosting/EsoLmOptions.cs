using System.ComponentModel.DataAnnotations;
using EsoLM.Tensors;
using Microsoft.Extensions.Options;

namespace EsoLM.Hosting;

/// <summary>
/// Settings of <c>services.AddEsoLm()</c>, bound from the configuration section <see cref="SectionName"/>. Strategies
/// (sampler, schedule, mask policy, KV cache, tokenizer) are chosen by the key they were registered under. Named options
/// are presets (<c>builder.AddPreset("fast", o =&gt; …)</c>).
/// </summary>
public sealed class EsoLmOptions
{
    /// <summary>The configuration section the options bind from: <c>EsoLm</c>.</summary>
    public const string SectionName = "EsoLm";

    /// <summary>Path of a model file (<c>ModelFile</c> format). Required unless a model is given in code with <c>UseModel</c>.</summary>
    public string? ModelPath { get; set; }

    /// <summary>
    /// Key of the sampler: built-ins <c>esolm</c>, <c>mdlm</c>, <c>bd3</c>, <c>ar</c>. Null (default): <c>mdlm</c> for a
    /// model trained as the MDLM baseline, else <c>esolm</c>.
    /// </summary>
    [MinLength(1)]
    public string? Sampler { get; set; }

    /// <summary>Key of the noise schedule used by the planner: built-ins <c>log-linear</c>, <c>cosine</c>.</summary>
    [Required]
    [MinLength(1)]
    public string Schedule { get; set; } = "log-linear";

    /// <summary>
    /// Key of the attention-mask policy: built-ins <c>esolm-b</c>, <c>esolm-a</c> and <c>mdlm</c> (bidirectional). Null
    /// (default): the policy the model was trained with (<see cref="EsoLmModel.Training"/>), else <c>esolm-b</c>.
    /// </summary>
    [MinLength(1)]
    public string? MaskPolicy { get; set; }

    /// <summary>
    /// Allow sampling with masks other than the model's training masks (another mask policy, or a sampler whose attention
    /// differs, such as <c>mdlm</c> or <c>bd3</c> on an Eso-LM). Off by default: such a request is refused, because it
    /// samples a distribution the network was not trained for.
    /// </summary>
    public bool AllowMaskPolicyMismatch { get; set; }

    /// <summary>Key of the KV cache factory: built-in <c>dense</c>.</summary>
    [Required]
    [MinLength(1)]
    public string KvCache { get; set; } = "dense";

    /// <summary>Key of the compute backend the model file is loaded on: built-in <c>cpu</c> (the managed engine).</summary>
    [Required]
    [MinLength(1)]
    public string Backend { get; set; } = "cpu";

    /// <summary>Key of a registered tokenizer (built-ins <c>byte</c>, <c>builtin</c>); null uses the model file's own tokenizer.</summary>
    public string? Tokenizer { get; set; }

    /// <summary>Largest <see cref="Steps"/>, also for a request's own steps.</summary>
    public const int MaxSteps = 4096;

    /// <summary>T: diffusion-phase steps; null = one per generated token.</summary>
    [Range(1, MaxSteps)]
    public int? Steps { get; set; }

    /// <summary>
    /// α_eval ∈ [0, 1]: expected fraction of tokens decoded by diffusion (0 = AR, 1 = pure diffusion). Null (default): the
    /// model's training α0 (<see cref="EsoLmModel.Training"/>), else 1.
    /// </summary>
    [Range(0.0, 1.0)]
    public double? AlphaEval { get; set; }

    /// <summary>Softmax temperature (&gt; 0).</summary>
    [Range(1e-6, 1e6)]
    public double Temperature { get; set; } = 1.0;

    /// <summary>Nucleus mass p ∈ (0, 1]; 1 = off.</summary>
    [Range(1e-9, 1.0)]
    public double TopP { get; set; } = 1.0;

    /// <summary>Keep the k most likely tokens; 0 = off.</summary>
    [Range(0, 1_000_000)]
    public int TopK { get; set; }

    /// <summary>Argmax decoding (no noise).</summary>
    public bool Greedy { get; set; }

    /// <summary>Block size L′ of the <c>bd3</c> sampler.</summary>
    [Range(1, 65536)]
    public int BlockSize { get; set; } = 16;

    /// <summary>Tokens to generate after the prompt; null = fill the model's context.</summary>
    [Range(1, 65536)]
    public int? MaxNewTokens { get; set; }

    /// <summary>Default seed; null draws a fresh seed per request.</summary>
    public ulong? Seed { get; set; }

    /// <summary>Threads a kernel of the <c>cpu</c> backend may use when the model is loaded from <see cref="ModelPath"/>; null = all cores.</summary>
    [Range(1, 1024)]
    public int? Threads { get; set; }

    /// <summary>
    /// Storage of the packed weight matrices when the model is loaded from <see cref="ModelPath"/> onto the <c>cpu</c> backend:
    /// <c>Float32</c> (exact, the default), <c>BFloat16</c>, <c>Int8</c> or <c>Int8A16</c> (faster sampling, approximate logits; see
    /// docs/guide/weights.md for their quality). Other backends choose their own storage.
    /// </summary>
    public WeightFormat Weights { get; set; } = WeightFormat.Float32;

    /// <summary>Idle samplers kept per distinct setting (the pool bound).</summary>
    [Range(1, 1024)]
    public int MaxPooledSamplers { get; set; } = 16;

    /// <summary>Distinct settings the sampler pool keeps samplers for; the least recently used setting is evicted beyond it.</summary>
    [Range(1, 4096)]
    public int MaxPooledSettings { get; set; } = 64;

    /// <summary>A copy.</summary>
    /// <returns>A new instance with the same values.</returns>
    public EsoLmOptions Clone() => (EsoLmOptions)MemberwiseClone();
}

/// <summary>Source-generated data-annotation validation of <see cref="EsoLmOptions"/> (AOT-safe).</summary>
[OptionsValidator]
internal sealed partial class EsoLmOptionsValidator : IValidateOptions<EsoLmOptions>
{
}
