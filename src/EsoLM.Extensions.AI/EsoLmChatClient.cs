using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using EsoLM.Hosting;
using Microsoft.Extensions.AI;

namespace EsoLM.Extensions.AI;

/// <summary>
/// An <see cref="IChatClient"/> over an Eso-LM. Safe for concurrent calls: every request rents a sampler from the
/// generator's pool over the shared read-only weights, so a request's output depends only on its messages, options and
/// <see cref="ChatOptions.Seed"/>. Maps <see cref="ChatOptions.Temperature"/> (0 = greedy), <see cref="ChatOptions.TopP"/>,
/// <see cref="ChatOptions.TopK"/>, <see cref="ChatOptions.Seed"/>, <see cref="ChatOptions.MaxOutputTokens"/> and
/// <see cref="ChatOptions.StopSequences"/>; diffusion settings travel in <see cref="ChatOptions.AdditionalProperties"/>
/// (<see cref="EsoLmChatOptionKeys"/>, set with <see cref="EsoLmChatOptionsExtensions"/>). Streaming yields only the
/// committed left-to-right prefix, so text is append-only. Tools are ignored.
/// </summary>
public sealed class EsoLmChatClient : IChatClient
{
    private readonly EsoLmGenerator _generator;
    private readonly EsoLmChatClientOptions _options;
    private readonly ChatClientMetadata _metadata;
    private int _disposed;

    /// <summary>Creates a client over a generator (shared, not owned).</summary>
    /// <param name="generator">The generator.</param>
    /// <param name="options">Client settings (copied).</param>
    public EsoLmChatClient(EsoLmGenerator generator, EsoLmChatClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(generator);
        _generator = generator;
        _options = new EsoLmChatClientOptions
        {
            ModelId = options?.ModelId ?? "esolm",
            PromptFormatter = options?.PromptFormatter,
        };
        ArgumentException.ThrowIfNullOrEmpty(_options.ModelId, nameof(options));
        _metadata = new ChatClientMetadata("esolm", null, _options.ModelId);
    }

    /// <summary>Creates a client over a model with the given generation defaults.</summary>
    /// <param name="model">The model.</param>
    /// <param name="generation">Generation defaults.</param>
    /// <param name="options">Client settings.</param>
    public EsoLmChatClient(EsoLmModel model, EsoLmOptions? generation = null, EsoLmChatClientOptions? options = null)
        : this(new EsoLmGenerator(model, generation), options)
    {
    }

    /// <summary>The generator.</summary>
    public EsoLmGenerator Generator => _generator;

    /// <summary>The default prompt template (see <see cref="EsoLmChatClientOptions.PromptFormatter"/>).</summary>
    /// <param name="messages">The conversation.</param>
    /// <param name="options">The request options (for <see cref="ChatOptions.Instructions"/>).</param>
    /// <returns>The prompt.</returns>
    public static string FormatPrompt(IReadOnlyList<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var sb = new StringBuilder();
        if (!string.IsNullOrEmpty(options?.Instructions))
        {
            sb.Append("system: ").Append(options.Instructions).Append('\n');
        }

        foreach (var message in messages)
        {
            sb.Append(message.Role.Value).Append(": ").Append(message.Text).Append('\n');
        }

        return sb.Append("assistant: ").ToString();
    }

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var request = CreateGenerationRequest(messages, options);
        IAsyncEnumerable<GenerationUpdate> updates;
        try
        {
            updates = _generator.GenerateStreamingAsync(request, cancellationToken); // validates eagerly
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"The model cannot honour this request: {ex.Message}", nameof(options), ex);
        }

        return Stream(updates, cancellationToken);
    }

    /// <summary>
    /// The generator request this client makes for a conversation: the prompt from <see cref="EsoLmChatClientOptions.PromptFormatter"/>
    /// and the sampler settings mapped from <paramref name="options"/>. Hosts that batch requests themselves (a server) use
    /// it with <see cref="EsoLmGenerator.GenerateBatch"/>, which gives the same text as <see cref="GetResponseAsync"/>
    /// for the same seed.
    /// </summary>
    /// <param name="messages">The conversation; it needs a user message with text.</param>
    /// <param name="options">The request options (not modified).</param>
    /// <returns>The request.</returns>
    public GenerationRequest CreateGenerationRequest(IEnumerable<ChatMessage> messages, ChatOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var list = messages.ToList();
        if (!list.Any(m => m.Role == ChatRole.User && !string.IsNullOrEmpty(m.Text)))
        {
            throw new ArgumentException("The conversation has no user message with text; an Eso-LM chat request needs at least one.", nameof(messages));
        }

        if (options?.ModelId is { } modelId && !string.Equals(modelId, _options.ModelId, StringComparison.Ordinal))
        {
            throw new ArgumentException($"ChatOptions.ModelId is '{modelId}' but this client serves '{_options.ModelId}'.", nameof(options));
        }

        var prompt = (_options.PromptFormatter ?? FormatPrompt)(list, options);
        return ToRequest(prompt, options);
    }

    /// <summary>
    /// The generator request for a raw text prompt (no chat template) with the settings mapped from
    /// <paramref name="options"/> exactly as for a conversation — what a text-completion endpoint sends.
    /// </summary>
    /// <param name="prompt">The prompt text, used as is.</param>
    /// <param name="options">The request options (not modified).</param>
    /// <returns>The request.</returns>
    public GenerationRequest CreateGenerationRequest(string prompt, ChatOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (options?.ModelId is { } modelId && !string.Equals(modelId, _options.ModelId, StringComparison.Ordinal))
        {
            throw new ArgumentException($"ChatOptions.ModelId is '{modelId}' but this client serves '{_options.ModelId}'.", nameof(options));
        }

        return ToRequest(prompt, options);
    }

    /// <summary>The model id this client serves (<see cref="EsoLmChatClientOptions.ModelId"/>).</summary>
    public string ModelId => _options.ModelId;

    private async IAsyncEnumerable<ChatResponseUpdate> Stream(IAsyncEnumerable<GenerationUpdate> updates,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var responseId = Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow;
        await foreach (var update in updates.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            var chunk = new ChatResponseUpdate(ChatRole.Assistant, update.NewText)
            {
                ResponseId = responseId,
                MessageId = responseId,
                ModelId = _options.ModelId,
                CreatedAt = created,
            };
            if (update.Result is { } result)
            {
                chunk.FinishReason = result.FinishReason == GenerationFinishReason.Length ? ChatFinishReason.Length : ChatFinishReason.Stop;
                chunk.Contents.Add(new UsageContent(new UsageDetails
                {
                    InputTokenCount = result.PromptTokens,
                    OutputTokenCount = result.TokenIds.Count,
                    TotalTokenCount = result.PromptTokens + result.TokenIds.Count,
                }));
                chunk.AdditionalProperties = new AdditionalPropertiesDictionary
                {
                    ["esolm.seed"] = result.Seed,
                    ["esolm.forward_passes"] = result.ForwardPasses,
                    ["esolm.sampler"] = result.Sampler,
                };
            }
            else if (update.NewText.Length == 0)
            {
                continue;
            }

            yield return chunk;
        }
    }

    private static GenerationRequest ToRequest(string prompt, ChatOptions? options)
    {
        if (options is null)
        {
            return new GenerationRequest(prompt);
        }

        var extra = options.AdditionalProperties;
        double? temperature = options.Temperature;
        bool? greedy = temperature == 0 ? true : null;
        if (temperature is double t && (t < 0 || double.IsNaN(t)))
        {
            throw new ArgumentOutOfRangeException(nameof(options), t, "ChatOptions.Temperature must be ≥ 0 (0 = greedy).");
        }

        return new GenerationRequest(prompt)
        {
            Seed = options.Seed is long seed ? unchecked((ulong)seed) : null,
            MaxNewTokens = options.MaxOutputTokens,
            Temperature = greedy == true ? null : temperature,
            Greedy = greedy,
            TopP = options.TopP,
            TopK = options.TopK,
            StopSequences = options.StopSequences is { Count: > 0 } stops ? [.. stops] : null,
            Steps = Read(extra, EsoLmChatOptionKeys.Steps, v => (int?)Convert.ToInt32(v, CultureInfo.InvariantCulture)),
            AlphaEval = Read(extra, EsoLmChatOptionKeys.AlphaEval, v => (double?)Convert.ToDouble(v, CultureInfo.InvariantCulture)),
            Sampler = Read(extra, EsoLmChatOptionKeys.Sampler, v => Convert.ToString(v, CultureInfo.InvariantCulture)),
            Schedule = Read(extra, EsoLmChatOptionKeys.Schedule, v => Convert.ToString(v, CultureInfo.InvariantCulture)),
        };
    }

    private static T? Read<T>(AdditionalPropertiesDictionary? options, string key, Func<object, T?> convert)
    {
        if (options is null || !options.TryGetValue(key, out var value) || value is null)
        {
            return default;
        }

        if (value is JsonElement json)
        {
            value = json.ValueKind switch
            {
                JsonValueKind.Number => json.GetDouble(),
                JsonValueKind.String => json.GetString()!,
                _ => throw new ArgumentException($"AdditionalProperties['{key}'] has an unsupported JSON value '{json}'.", nameof(options)),
            };
        }

        try
        {
            return convert(value);
        }
        catch (Exception ex) when (ex is FormatException or InvalidCastException or OverflowException)
        {
            throw new ArgumentException($"AdditionalProperties['{key}'] = '{value}' is not a valid {typeof(T).Name}.", nameof(options), ex);
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? _metadata
            : serviceType == typeof(EsoLmGenerator) ? _generator
            : serviceType == typeof(EsoLmModel) ? _generator.Model
            : serviceType.IsInstanceOfType(this) ? this
            : null;
    }

    /// <summary>
    /// Marks the client disposed: new requests throw <see cref="ObjectDisposedException"/>; requests already running finish
    /// normally (they own their samplers; the shared weights are never released).
    /// </summary>
    public void Dispose() => Interlocked.Exchange(ref _disposed, 1);
}
