using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using EsoLM.Hosting;
using Microsoft.Extensions.AI;

namespace EsoLM.Extensions.AI;

/// <summary>Settings of <see cref="EsoLmChatClient"/>.</summary>
public sealed class EsoLmChatClientOptions
{
    /// <summary>The model id reported in metadata and responses; a request whose <see cref="ChatOptions.ModelId"/> differs is refused.</summary>
    public string ModelId { get; set; } = "esolm";

    /// <summary>
    /// Turns the conversation into the prompt text. Default (<see cref="EsoLmChatClient.FormatPrompt"/>): optional
    /// <c>"system: {Instructions}\n"</c>, then one <c>"{role}: {text}\n"</c> line per message, then <c>"assistant: "</c>.
    /// </summary>
    public Func<IReadOnlyList<ChatMessage>, ChatOptions?, string>? PromptFormatter { get; set; }
}
