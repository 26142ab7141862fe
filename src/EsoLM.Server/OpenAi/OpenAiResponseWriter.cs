using System.Text;
using System.Text.Json;
using EsoLM.Server.Serving;

namespace EsoLM.Server.OpenAi;

/// <summary>Writes OpenAI response bodies and server-sent-event chunks for one response id.</summary>
internal sealed class OpenAiResponseWriter(string id, long created, string model, bool chat)
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();

    public async Task WriteCompletionAsync(Stream body, CompletionOutcome outcome, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            Header(w, chat ? "chat.completion" : "text_completion");
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            if (chat)
            {
                w.WriteStartObject("message");
                w.WriteString("role", "assistant");
                w.WriteString("content", outcome.Text);
                w.WriteEndObject();
            }
            else
            {
                w.WriteString("text", outcome.Text);
                w.WriteNull("logprobs");
            }

            w.WriteString("finish_reason", Finish(outcome.Finish));
            w.WriteEndObject();
            w.WriteEndArray();
            Usage(w, outcome);
            w.WriteEndObject();
        }

        buffer.Position = 0;
        await buffer.CopyToAsync(body, cancellationToken).ConfigureAwait(false);
    }

    public Task WriteChunkAsync(Stream body, string delta, bool role, CompletionFinish? finish, CancellationToken cancellationToken) =>
        WriteEventAsync(body, w =>
        {
            w.WriteStartObject();
            Header(w, chat ? "chat.completion.chunk" : "text_completion");
            w.WriteStartArray("choices");
            w.WriteStartObject();
            w.WriteNumber("index", 0);
            if (chat)
            {
                w.WriteStartObject("delta");
                if (role)
                {
                    w.WriteString("role", "assistant");
                }

                if (finish is null)
                {
                    w.WriteString("content", delta);
                }

                w.WriteEndObject();
            }
            else
            {
                w.WriteString("text", delta);
                w.WriteNull("logprobs");
            }

            if (finish is { } f)
            {
                w.WriteString("finish_reason", Finish(f));
            }
            else
            {
                w.WriteNull("finish_reason");
            }

            w.WriteEndObject();
            w.WriteEndArray();
            w.WriteEndObject();
        }, cancellationToken);

    public Task WriteUsageChunkAsync(Stream body, CompletionOutcome outcome, CancellationToken cancellationToken) =>
        WriteEventAsync(body, w =>
        {
            w.WriteStartObject();
            Header(w, chat ? "chat.completion.chunk" : "text_completion");
            w.WriteStartArray("choices");
            w.WriteEndArray();
            Usage(w, outcome);
            w.WriteEndObject();
        }, cancellationToken);

    public static async Task WriteDoneAsync(Stream body, CancellationToken cancellationToken)
    {
        await body.WriteAsync(Encoding.UTF8.GetBytes("data: [DONE]\n\n"), cancellationToken).ConfigureAwait(false);
        await body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task WriteEventAsync(Stream body, Action<Utf8JsonWriter> write, CancellationToken cancellationToken)
    {
        var buffer = new MemoryStream();
        buffer.Write(DataPrefix);
        using (var w = new Utf8JsonWriter(buffer))
        {
            write(w);
        }

        buffer.Write(EventEnd);
        buffer.Position = 0;
        await buffer.CopyToAsync(body, cancellationToken).ConfigureAwait(false);
        await body.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private void Header(Utf8JsonWriter w, string kind)
    {
        w.WriteString("id", id);
        w.WriteString("object", kind);
        w.WriteNumber("created", created);
        w.WriteString("model", model);
    }

    private static void Usage(Utf8JsonWriter w, CompletionOutcome outcome)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", outcome.PromptTokens);
        w.WriteNumber("completion_tokens", outcome.CompletionTokens);
        w.WriteNumber("total_tokens", outcome.PromptTokens + outcome.CompletionTokens);
        w.WriteEndObject();
        w.WriteStartObject("esolm");
        w.WriteNumber("seed", outcome.Seed);
        w.WriteString("replica", outcome.Replica);
        w.WriteEndObject();
    }

    private static string Finish(CompletionFinish finish) => finish == CompletionFinish.Length ? "length" : "stop";
}
