using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using EsoLM.Hosting;
using Microsoft.Extensions.AI;

namespace EsoLM.Extensions.AI;

/// <summary>Keys of EsoLM settings in <see cref="ChatOptions.AdditionalProperties"/>.</summary>
public static class EsoLmChatOptionKeys
{
    /// <summary>Diffusion steps T (int).</summary>
    public const string Steps = "esolm.steps";

    /// <summary>α_eval ∈ [0, 1] (double).</summary>
    public const string AlphaEval = "esolm.alpha_eval";

    /// <summary>Sampler key (string), e.g. <c>esolm</c>, <c>mdlm</c>, <c>bd3</c>, <c>ar</c>.</summary>
    public const string Sampler = "esolm.sampler";

    /// <summary>Noise schedule key (string), e.g. <c>log-linear</c>, <c>cosine</c>.</summary>
    public const string Schedule = "esolm.schedule";
}
