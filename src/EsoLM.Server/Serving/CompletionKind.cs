namespace EsoLM.Server.Serving;

/// <summary>Whether a call is a chat conversation (formatted by the chat client's template) or a raw text prompt.</summary>
public enum CompletionKind
{
    /// <summary>A conversation (<c>/v1/chat/completions</c>).</summary>
    Chat,

    /// <summary>A raw prompt (<c>/v1/completions</c>).</summary>
    Text,
}
