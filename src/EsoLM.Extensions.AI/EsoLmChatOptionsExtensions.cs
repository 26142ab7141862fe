using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using EsoLM.Hosting;
using Microsoft.Extensions.AI;

namespace EsoLM.Extensions.AI;

/// <summary>Typed helpers that put EsoLM settings into <see cref="ChatOptions.AdditionalProperties"/>.</summary>
public static class EsoLmChatOptionsExtensions
{
    /// <summary>Sets the diffusion steps (<c>esolm.steps</c>).</summary>
    /// <param name="options">The options (modified and returned).</param>
    /// <param name="steps">Steps ≥ 1.</param>
    /// <returns><paramref name="options"/>.</returns>
    public static ChatOptions WithEsoLmSteps(this ChatOptions options, int steps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        return Set(options, EsoLmChatOptionKeys.Steps, steps);
    }

    /// <summary>Sets α_eval (<c>esolm.alpha_eval</c>).</summary>
    /// <param name="options">The options (modified and returned).</param>
    /// <param name="alphaEval">α_eval in [0, 1].</param>
    /// <returns><paramref name="options"/>.</returns>
    public static ChatOptions WithEsoLmAlphaEval(this ChatOptions options, double alphaEval)
    {
        if (!(alphaEval >= 0 && alphaEval <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alphaEval), alphaEval, "α_eval must be in [0, 1].");
        }

        return Set(options, EsoLmChatOptionKeys.AlphaEval, alphaEval);
    }

    /// <summary>Selects the sampler by key (<c>esolm.sampler</c>).</summary>
    /// <param name="options">The options (modified and returned).</param>
    /// <param name="sampler">The key.</param>
    /// <returns><paramref name="options"/>.</returns>
    public static ChatOptions WithEsoLmSampler(this ChatOptions options, string sampler)
    {
        ArgumentException.ThrowIfNullOrEmpty(sampler);
        return Set(options, EsoLmChatOptionKeys.Sampler, sampler);
    }

    /// <summary>Selects the noise schedule by key (<c>esolm.schedule</c>).</summary>
    /// <param name="options">The options (modified and returned).</param>
    /// <param name="schedule">The key.</param>
    /// <returns><paramref name="options"/>.</returns>
    public static ChatOptions WithEsoLmSchedule(this ChatOptions options, string schedule)
    {
        ArgumentException.ThrowIfNullOrEmpty(schedule);
        return Set(options, EsoLmChatOptionKeys.Schedule, schedule);
    }

    private static ChatOptions Set(ChatOptions options, string key, object value)
    {
        ArgumentNullException.ThrowIfNull(options);
        (options.AdditionalProperties ??= [])[key] = value;
        return options;
    }
}
