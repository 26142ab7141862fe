namespace EsoLM.Hosting;

/// <summary>
/// One generation (a pipeline row). Settings left null fall back to the generator's <see cref="EsoLmOptions"/>.
/// </summary>
/// <param name="Prompt">The prompt text (may be empty).</param>
public sealed record GenerationRequest(string Prompt)
{
    /// <summary>The seed; null uses <see cref="EsoLmOptions.Seed"/> or a fresh random seed.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Tokens to generate after the prompt; prompt + this must fit the model's context.</summary>
    public int? MaxNewTokens { get; init; }

    /// <summary>Sampler key override.</summary>
    public string? Sampler { get; init; }

    /// <summary>Schedule key override.</summary>
    public string? Schedule { get; init; }

    /// <summary>Diffusion steps override.</summary>
    public int? Steps { get; init; }

    /// <summary>α_eval override.</summary>
    public double? AlphaEval { get; init; }

    /// <summary>Temperature override.</summary>
    public double? Temperature { get; init; }

    /// <summary>Top-p override.</summary>
    public double? TopP { get; init; }

    /// <summary>Top-k override.</summary>
    public int? TopK { get; init; }

    /// <summary>Greedy override.</summary>
    public bool? Greedy { get; init; }

    /// <summary>Generation stops at the first of these in the completion (which is cut before it).</summary>
    public IReadOnlyList<string>? StopSequences { get; init; }
}
