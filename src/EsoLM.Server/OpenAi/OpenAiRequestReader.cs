using System.Globalization;
using System.Text.Json;
using EsoLM.Server.Serving;

namespace EsoLM.Server.OpenAi;

/// <summary>
/// Reads OpenAI request bodies (<c>/v1/chat/completions</c>, <c>/v1/completions</c>) into <see cref="CompletionCall"/>s,
/// checking every field it knows; the Eso-LM settings are the extra fields <c>sampler</c>, <c>steps</c> and
/// <c>alpha_eval</c>. Errors are <see cref="OpenAiRequestException"/>s that name the field.
/// </summary>
public static class OpenAiRequestReader
{
    private static readonly HashSet<string> Roles = ["system", "developer", "user", "assistant"];

    /// <summary>Reads a chat-completions body.</summary>
    /// <param name="body">The JSON body.</param>
    /// <returns>The request.</returns>
    public static OpenAiRequest ReadChat(JsonElement body)
    {
        RequireObject(body);
        if (!body.TryGetProperty("messages", out var messages))
        {
            throw OpenAiRequestException.Field("messages", "'messages' is required.");
        }

        if (messages.ValueKind != JsonValueKind.Array || messages.GetArrayLength() == 0)
        {
            throw OpenAiRequestException.Field("messages", "'messages' must be a non-empty array.");
        }

        var list = new List<CallMessage>();
        int i = 0;
        foreach (var message in messages.EnumerateArray())
        {
            string at = $"messages[{i++}]";
            if (message.ValueKind != JsonValueKind.Object)
            {
                throw OpenAiRequestException.Field(at, $"'{at}' must be an object.");
            }

            var role = message.TryGetProperty("role", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : null;
            if (role is null || !Roles.Contains(role))
            {
                throw OpenAiRequestException.Field($"{at}.role", $"'{at}.role' must be one of {string.Join(", ", Roles)}.");
            }

            list.Add(new CallMessage(role, ReadContent(message, at)));
        }

        return Read(body, new CompletionCall { Kind = CompletionKind.Chat, Messages = list });
    }

    /// <summary>Reads a completions body.</summary>
    /// <param name="body">The JSON body.</param>
    /// <returns>The request.</returns>
    public static OpenAiRequest ReadCompletion(JsonElement body)
    {
        RequireObject(body);
        if (!body.TryGetProperty("prompt", out var prompt) || prompt.ValueKind != JsonValueKind.String)
        {
            throw OpenAiRequestException.Field("prompt", "'prompt' is required and must be a string (one prompt per request).");
        }

        return Read(body, new CompletionCall { Kind = CompletionKind.Text, Prompt = prompt.GetString()! });
    }

    private static void RequireObject(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw new OpenAiRequestException(400, null, "invalid_json", "The request body must be a JSON object.");
        }
    }

    private static string ReadContent(JsonElement message, string at)
    {
        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
        {
            return string.Empty;
        }

        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }

        if (content.ValueKind == JsonValueKind.Array)
        {
            var parts = new List<string>();
            foreach (var part in content.EnumerateArray())
            {
                if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.GetString() != "text"
                    || !part.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                {
                    throw OpenAiRequestException.Field($"{at}.content", $"'{at}.content' may hold only text parts ({{\"type\":\"text\",\"text\":…}}).");
                }

                parts.Add(text.GetString()!);
            }

            return string.Concat(parts);
        }

        throw OpenAiRequestException.Field($"{at}.content", $"'{at}.content' must be a string or an array of text parts.");
    }

    private static OpenAiRequest Read(JsonElement body, CompletionCall call)
    {
        string? model = ReadString(body, "model");
        int? n = ReadInt(body, "n", 1, int.MaxValue);
        if (n is > 1)
        {
            throw OpenAiRequestException.Field("n", $"'n' is {n}; this server returns one choice per request (n = 1).");
        }

        int? maxTokens = ReadInt(body, "max_completion_tokens", 1, int.MaxValue) ?? ReadInt(body, "max_tokens", 1, int.MaxValue);
        bool stream = ReadBool(body, "stream") ?? false;
        bool includeUsage = body.TryGetProperty("stream_options", out var so) && so.ValueKind == JsonValueKind.Object
            && so.TryGetProperty("include_usage", out var iu) && iu.ValueKind == JsonValueKind.True;
        call = call with
        {
            Seed = ReadLong(body, "seed"),
            MaxTokens = maxTokens,
            Temperature = ReadDouble(body, "temperature", 0, 2, inclusiveLow: true),
            TopP = ReadDouble(body, "top_p", 0, 1, inclusiveLow: false),
            TopK = ReadInt(body, "top_k", 0, 1_000_000),
            Stop = ReadStop(body),
            Steps = ReadInt(body, "steps", 1, 4096),
            AlphaEval = ReadDouble(body, "alpha_eval", 0, 1, inclusiveLow: true),
            Sampler = ReadString(body, "sampler"),
        };
        return new OpenAiRequest(call, stream, includeUsage, model);
    }

    private static string? ReadString(JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s
            ? s
            : throw OpenAiRequestException.Field(name, $"'{name}' must be a non-empty string.");
    }

    private static bool? ReadBool(JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw OpenAiRequestException.Field(name, $"'{name}' must be true or false."),
        };
    }

    private static long? ReadLong(JsonElement body, string name)
    {
        if (!body.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long x)
            ? x
            : throw OpenAiRequestException.Field(name, $"'{name}' must be an integer (64-bit).");
    }

    private static int? ReadInt(JsonElement body, string name, int min, int max)
    {
        if (!body.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long x))
        {
            throw OpenAiRequestException.Field(name, $"'{name}' must be an integer.");
        }

        return x < min || x > max
            ? throw OpenAiRequestException.Field(name, string.Create(CultureInfo.InvariantCulture, $"'{name}' is {x}; it must be in [{min}, {max}]."))
            : (int)x;
    }

    private static double? ReadDouble(JsonElement body, string name, double min, double max, bool inclusiveLow)
    {
        if (!body.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double x))
        {
            throw OpenAiRequestException.Field(name, $"'{name}' must be a number.");
        }

        bool ok = (inclusiveLow ? x >= min : x > min) && x <= max;
        return ok ? x : throw OpenAiRequestException.Field(name, string.Create(CultureInfo.InvariantCulture,
            $"'{name}' is {x}; it must be in {(inclusiveLow ? "[" : "(")}{min}, {max}]."));
    }

    private static string[]? ReadStop(JsonElement body)
    {
        if (!body.TryGetProperty("stop", out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind == JsonValueKind.String)
        {
            return [v.GetString()!];
        }

        if (v.ValueKind == JsonValueKind.Array && v.GetArrayLength() <= 4 && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
        {
            return [.. v.EnumerateArray().Select(e => e.GetString()!)];
        }

        throw OpenAiRequestException.Field("stop", "'stop' must be a string or an array of at most 4 strings.");
    }
}
