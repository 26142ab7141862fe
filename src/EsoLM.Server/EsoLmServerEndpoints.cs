using System.Diagnostics;
using System.Text.Json;
using EsoLM.Server.OpenAi;
using EsoLM.Server.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EsoLM.Server;

/// <summary>
/// The OpenAI-compatible endpoints: <c>POST /v1/chat/completions</c>, <c>POST /v1/completions</c> (both with
/// <c>stream: true</c> as server-sent events), <c>GET /v1/models</c> and <c>GET /health</c>. Requests go to the
/// registered <see cref="ICompletionBackend"/>; a full queue answers 429, a bad request 400 naming the field, a failed
/// backend 503. When the client disconnects, its generation is cancelled.
/// </summary>
public static class EsoLmServerEndpoints
{
    /// <summary>Maps the endpoints (register the services with <c>AddEsoLmServer</c> first).</summary>
    /// <param name="endpoints">The route builder.</param>
    /// <returns>The route builder.</returns>
    public static IEndpointRouteBuilder MapEsoLmOpenAi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/health", (ICompletionBackend backend, ServerMetrics metrics) =>
            Results.Json(new { status = "ok", model = backend.ModelId, queue = metrics.QueueLength }));
        endpoints.MapGet("/v1/models", (ICompletionBackend backend) => Results.Json(new
        {
            @object = "list",
            data = new[] { new { id = backend.ModelId, @object = "model", created = 0, owned_by = "esolm" } },
        }));
        endpoints.MapPost("/v1/chat/completions", context => HandleAsync(context, chat: true));
        endpoints.MapPost("/v1/completions", context => HandleAsync(context, chat: false));
        return endpoints;
    }

    private static async Task HandleAsync(HttpContext context, bool chat)
    {
        var services = context.RequestServices;
        var backend = services.GetRequiredService<ICompletionBackend>();
        var options = services.GetRequiredService<EsoLmServerOptions>();
        var metrics = services.GetRequiredService<ServerMetrics>();
        var aborted = context.RequestAborted;
        string endpoint = chat ? "chat.completions" : "completions";
        var clock = Stopwatch.StartNew();
        int status = 200;
        if (metrics.QueueLength >= options.MaxQueueLength)
        {
            status = 429;
            await WriteErrorAsync(context, new OpenAiRequestException(429, null, "queue_full",
                $"The server's queue is full ({options.MaxQueueLength} requests); retry later.")).ConfigureAwait(false);
            metrics.Answered(endpoint, status);
            return;
        }

        metrics.Admitted();
        try
        {
            OpenAiRequest request;
            try
            {
                using var document = await JsonDocument.ParseAsync(context.Request.Body, default, aborted).ConfigureAwait(false);
                request = chat ? OpenAiRequestReader.ReadChat(document.RootElement) : OpenAiRequestReader.ReadCompletion(document.RootElement);
            }
            catch (JsonException ex)
            {
                throw new OpenAiRequestException(400, null, "invalid_json", $"The request body is not valid JSON: {ex.Message}");
            }

            if (request.Model is { } model && !string.Equals(model, backend.ModelId, StringComparison.Ordinal))
            {
                throw new OpenAiRequestException(400, "model", "model_not_found", $"The model '{model}' is not served here; this server serves '{backend.ModelId}'.");
            }

            var id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
            long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var writer = new OpenAiResponseWriter(id, created, backend.ModelId, chat);
            if (!request.Stream)
            {
                var outcome = await backend.CompleteAsync(request.Call, aborted).ConfigureAwait(false);
                ThrowIfInvalid(outcome);
                context.Response.ContentType = "application/json";
                await writer.WriteCompletionAsync(context.Response.Body, outcome, aborted).ConfigureAwait(false);
                metrics.Completed(outcome.CompletionTokens, clock.Elapsed);
                return;
            }

            await using var pieces = backend.StreamAsync(request.Call, aborted).GetAsyncEnumerator(aborted);
            if (!await pieces.MoveNextAsync().ConfigureAwait(false))
            {
                throw new InvalidOperationException("The backend ended the stream without an outcome.");
            }

            ThrowIfInvalid(pieces.Current.Outcome); // before any byte is sent, so a bad request is still a plain 400
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            var body = context.Response.Body;
            await writer.WriteChunkAsync(body, delta: string.Empty, role: true, finish: null, aborted).ConfigureAwait(false);
            CompletionOutcome? final = null;
            do
            {
                var piece = pieces.Current;
                if (piece.Delta.Length > 0)
                {
                    await writer.WriteChunkAsync(body, piece.Delta, role: false, finish: null, aborted).ConfigureAwait(false);
                }

                final = piece.Outcome ?? final;
            }
            while (await pieces.MoveNextAsync().ConfigureAwait(false));

            if (final is null)
            {
                throw new InvalidOperationException("The backend ended the stream without an outcome.");
            }

            await writer.WriteChunkAsync(body, string.Empty, role: false, finish: final.Finish, aborted).ConfigureAwait(false);
            if (request.IncludeUsage)
            {
                await writer.WriteUsageChunkAsync(body, final, aborted).ConfigureAwait(false);
            }

            await OpenAiResponseWriter.WriteDoneAsync(body, aborted).ConfigureAwait(false);
            metrics.Completed(final.CompletionTokens, clock.Elapsed);
        }
        catch (OpenAiRequestException ex)
        {
            status = ex.Status;
            await WriteErrorAsync(context, ex).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            status = 499; // the client closed the request; nothing is sent
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            status = 503;
            await WriteErrorAsync(context, new OpenAiRequestException(503, null, "backend_unavailable",
                $"The model backend failed: {ex.Message}")).ConfigureAwait(false);
        }
        finally
        {
            metrics.Released();
            metrics.Answered(endpoint, status);
        }
    }

    private static void ThrowIfInvalid(CompletionOutcome? outcome)
    {
        if (outcome?.Error is { } error)
        {
            throw new OpenAiRequestException(400, outcome.ErrorParam, "invalid_value", error);
        }
    }

    private static async Task WriteErrorAsync(HttpContext context, OpenAiRequestException error)
    {
        if (context.Response.HasStarted || context.RequestAborted.IsCancellationRequested)
        {
            return; // mid-stream: the connection is simply closed
        }

        context.Response.StatusCode = error.Status;
        await context.Response.WriteAsJsonAsync(new
        {
            error = new
            {
                message = error.Message,
                type = error.Status == 429 ? "rate_limit_error" : error.Status >= 500 ? "server_error" : "invalid_request_error",
                param = error.Param,
                code = error.Code,
            },
        }).ConfigureAwait(false);
    }
}
