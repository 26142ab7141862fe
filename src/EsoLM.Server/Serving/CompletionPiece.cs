namespace EsoLM.Server.Serving;

/// <summary>One piece of a streamed completion: new text, and on the last piece the outcome.</summary>
/// <param name="Delta">Text appended since the previous piece (never retracted).</param>
/// <param name="Outcome">The final outcome (last piece only), or an error (then the only piece).</param>
[GenerateSerializer]
[Immutable]
public sealed record CompletionPiece([property: Id(0)] string Delta, [property: Id(1)] CompletionOutcome? Outcome);
