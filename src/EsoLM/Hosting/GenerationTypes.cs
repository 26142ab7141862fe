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

/// <summary>Why a generation ended.</summary>
public enum GenerationFinishReason
{
    /// <summary>The requested length was reached.</summary>
    Length = 0,

    /// <summary>The model produced its end-of-sequence token.</summary>
    EndOfSequence = 1,

    /// <summary>A stop sequence appeared.</summary>
    StopSequence = 2,
}

/// <summary>The output of one <see cref="GenerationRequest"/>.</summary>
/// <param name="Prompt">The prompt.</param>
/// <param name="Completion">The generated text (after the prompt, cut at EOS or a stop sequence).</param>
/// <param name="TokenIds">The generated token ids (prompt excluded, before any stop-sequence cut).</param>
/// <param name="PromptTokens">Tokens in the prompt.</param>
/// <param name="FinishReason">Why generation ended.</param>
/// <param name="ForwardPasses">Network evaluations (NFE).</param>
/// <param name="Seed">The seed used (to reproduce the result).</param>
/// <param name="Sampler">The sampler key used.</param>
public sealed record GenerationResult(string Prompt, string Completion, IReadOnlyList<int> TokenIds, int PromptTokens,
    GenerationFinishReason FinishReason, int ForwardPasses, ulong Seed, string Sampler);

/// <summary>A streaming step: the committed completion text grew (append-only).</summary>
/// <param name="NewText">Text appended since the previous update.</param>
/// <param name="Step">The sampler step.</param>
/// <param name="Result">The final result, on the last update only.</param>
public sealed record GenerationUpdate(string NewText, int Step, GenerationResult? Result);
