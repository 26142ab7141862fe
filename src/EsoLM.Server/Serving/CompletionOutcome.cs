namespace EsoLM.Server.Serving;

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
