using System.Globalization;
using System.Text.Json;
using EsoLM.Server.Serving;

namespace EsoLM.Server.OpenAi;

/// <summary>A parsed request: the call for the backend, whether to stream, and the model asked for.</summary>
/// <param name="Call">The call.</param>
/// <param name="Stream">Server-sent events requested.</param>
/// <param name="IncludeUsage">Streaming only: send a usage chunk before <c>[DONE]</c> (<c>stream_options.include_usage</c>).</param>
/// <param name="Model">The model id asked for, or null.</param>
public sealed record OpenAiRequest(CompletionCall Call, bool Stream, bool IncludeUsage, string? Model);
