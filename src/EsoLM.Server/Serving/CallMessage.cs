namespace EsoLM.Server.Serving;

/// <summary>One message of a chat call.</summary>
/// <param name="Role">The role: <c>system</c>, <c>developer</c>, <c>user</c> or <c>assistant</c>.</param>
/// <param name="Content">The text.</param>
[GenerateSerializer]
[Immutable]
public sealed record CallMessage([property: Id(0)] string Role, [property: Id(1)] string Content);
