using System.Text.Json;

namespace EsoLM.Text;

/// <summary>Shared names and readers for tokenizer description payloads.</summary>
internal static class TokenizerJson
{
    /// <summary>Payload flag: special-token text in the input becomes the special id.</summary>
    public const string AllowSpecial = "allow_special";

    /// <summary>An optional boolean property (absent: false).</summary>
    public static bool Flag(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;
}
