namespace EsoLM.Server.Serving;

/// <summary>
/// One completion request as the server hands it to a backend (a local model or a replica grain on a cluster): the
/// conversation or prompt and the sampler settings, already checked for range by the HTTP layer.
/// </summary>
[GenerateSerializer]
[Immutable]
public sealed record CompletionCall
{
    /// <summary>Chat or raw text.</summary>
    [Id(0)]
    public required CompletionKind Kind { get; init; }

    /// <summary>The conversation (chat calls).</summary>
    [Id(1)]
    public IReadOnlyList<CallMessage> Messages { get; init; } = [];

    /// <summary>The prompt (text calls).</summary>
    [Id(2)]
    public string Prompt { get; init; } = string.Empty;

    /// <summary>The seed; null draws one.</summary>
    [Id(3)]
    public long? Seed { get; init; }

    /// <summary>Tokens to generate at most; null = fill the context.</summary>
    [Id(4)]
    public int? MaxTokens { get; init; }

    /// <summary>Temperature (0 = greedy).</summary>
    [Id(5)]
    public double? Temperature { get; init; }

    /// <summary>Nucleus mass.</summary>
    [Id(6)]
    public double? TopP { get; init; }

    /// <summary>Top-k.</summary>
    [Id(7)]
    public int? TopK { get; init; }

    /// <summary>Stop sequences.</summary>
    [Id(8)]
    public IReadOnlyList<string>? Stop { get; init; }

    /// <summary>Diffusion steps (Eso-LM setting).</summary>
    [Id(9)]
    public int? Steps { get; init; }

    /// <summary>α_eval (Eso-LM setting).</summary>
    [Id(10)]
    public double? AlphaEval { get; init; }

    /// <summary>Sampler key (Eso-LM setting): <c>esolm</c>, <c>mdlm</c>, <c>bd3</c>, <c>ar</c> or a registered one.</summary>
    [Id(11)]
    public string? Sampler { get; init; }
}
