namespace EsoLM.Server.Serving;

/// <summary>Whether a call is a chat conversation (formatted by the chat client's template) or a raw text prompt.</summary>
public enum CompletionKind
{
    /// <summary>A conversation (<c>/v1/chat/completions</c>).</summary>
    Chat,

    /// <summary>A raw prompt (<c>/v1/completions</c>).</summary>
    Text,
}

/// <summary>One message of a chat call.</summary>
/// <param name="Role">The role: <c>system</c>, <c>developer</c>, <c>user</c> or <c>assistant</c>.</param>
/// <param name="Content">The text.</param>
[GenerateSerializer]
[Immutable]
public sealed record CallMessage([property: Id(0)] string Role, [property: Id(1)] string Content);

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

/// <summary>Why a completion ended, in OpenAI's words.</summary>
public enum CompletionFinish
{
    /// <summary><c>stop</c>: end of sequence or a stop sequence.</summary>
    Stop,

    /// <summary><c>length</c>: the token limit.</summary>
    Length,
}

/// <summary>
/// The answer to a <see cref="CompletionCall"/>: the text and usage, or a request error that names the offending field
/// (errors travel as values so that they cross a cluster unchanged).
/// </summary>
[GenerateSerializer]
[Immutable]
public sealed record CompletionOutcome
{
    /// <summary>The completion text.</summary>
    [Id(0)]
    public string Text { get; init; } = string.Empty;

    /// <summary>Why it ended.</summary>
    [Id(1)]
    public CompletionFinish Finish { get; init; }

    /// <summary>Prompt tokens.</summary>
    [Id(2)]
    public int PromptTokens { get; init; }

    /// <summary>Completion tokens.</summary>
    [Id(3)]
    public int CompletionTokens { get; init; }

    /// <summary>The seed used.</summary>
    [Id(4)]
    public long Seed { get; init; }

    /// <summary>The request field at fault (OpenAI's <c>param</c>), when <see cref="Error"/> is set.</summary>
    [Id(5)]
    public string? ErrorParam { get; init; }

    /// <summary>A request error, or null on success.</summary>
    [Id(6)]
    public string? Error { get; init; }

    /// <summary>Which replica answered (the silo address on a cluster, <c>local</c> otherwise).</summary>
    [Id(7)]
    public string Replica { get; init; } = "local";

    /// <summary>An outcome that reports a request error.</summary>
    /// <param name="param">The field.</param>
    /// <param name="message">The message.</param>
    /// <returns>The outcome.</returns>
    public static CompletionOutcome Invalid(string? param, string message) => new() { ErrorParam = param, Error = message };
}

/// <summary>One piece of a streamed completion: new text, and on the last piece the outcome.</summary>
/// <param name="Delta">Text appended since the previous piece (never retracted).</param>
/// <param name="Outcome">The final outcome (last piece only), or an error (then the only piece).</param>
[GenerateSerializer]
[Immutable]
public sealed record CompletionPiece([property: Id(0)] string Delta, [property: Id(1)] CompletionOutcome? Outcome);
