using System.Runtime.CompilerServices;
using System.Threading.Channels;
using EsoLM.Extensions.AI;
using EsoLM.Hosting;
using Microsoft.Extensions.AI;

namespace EsoLM.Server.Serving;

/// <summary>
/// Serves calls from the model in this process, through the library's <see cref="EsoLmChatClient"/>: the same prompt
/// template and settings mapping, so a served request gives the library's text for the same seed. Concurrent
/// non-streaming requests with equal sampler settings are collected into one sampler batch
/// (<see cref="EsoLmGenerator.GenerateBatch"/>); a sequence's output never depends on what runs beside it.
/// </summary>
public sealed class LocalCompletionBackend : ICompletionBackend, IAsyncDisposable
{
    private readonly EsoLmChatClient _client;
    private readonly EsoLmServerOptions _options;
    private readonly ServerMetrics? _metrics;
    private readonly SemaphoreSlim _slots;
    private readonly Channel<Pending>? _queue;
    private readonly Task? _loop;
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Creates the backend.</summary>
    /// <param name="client">The chat client over the model (shared, not owned).</param>
    /// <param name="options">Server settings (read once).</param>
    /// <param name="metrics">Where batch sizes are recorded, or null.</param>
    public LocalCompletionBackend(EsoLmChatClient client, EsoLmServerOptions? options = null, ServerMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
        _options = options ?? new EsoLmServerOptions();
        _options.Validate();
        _metrics = metrics;
        _slots = new SemaphoreSlim(_options.MaxConcurrentBatches, _options.MaxConcurrentBatches);
        if (_options.EnableBatching)
        {
            _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
            _loop = Task.Run(BatchLoopAsync);
        }
    }

    /// <inheritdoc />
    public string ModelId => _client.ModelId;

    /// <summary>The model's context length in tokens.</summary>
    public int ContextLength => _client.Generator.Model.Config.ContextLength;

    /// <inheritdoc />
    public async Task<CompletionOutcome> CompleteAsync(CompletionCall request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var call = request;
        if (!TryCreateRequest(call, out var generation, out var invalid))
        {
            return invalid;
        }

        GenerationResult result;
        if (_queue is null)
        {
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                result = await Task.Run(() => _client.Generator.Generate(generation, cancellationToken), cancellationToken).ConfigureAwait(false);
                _metrics?.Batch(1);
            }
            finally
            {
                _slots.Release();
            }
        }
        else
        {
            var pending = new Pending(generation, cancellationToken);
            ObjectDisposedException.ThrowIf(!_queue.Writer.TryWrite(pending), this);

            using (cancellationToken.Register(static p => ((Pending)p!).Result.TrySetCanceled(), pending))
            {
                result = await pending.Result.Task.ConfigureAwait(false);
            }
        }

        return ToOutcome(result);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<CompletionPiece> StreamAsync(CompletionCall request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var call = request;
        if (!TryCreateRequest(call, out var generation, out var invalid))
        {
            yield return new CompletionPiece(string.Empty, invalid);
            yield break;
        }

        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await foreach (var update in _client.Generator.GenerateStreamingAsync(generation, cancellationToken).ConfigureAwait(false))
            {
                yield return new CompletionPiece(update.NewText, update.Result is { } result ? ToOutcome(result) : null);
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>Stops the batch loop; requests still queued are cancelled.</summary>
    /// <returns>A task that completes when the loop has ended.</returns>
    public async ValueTask DisposeAsync()
    {
        if (_queue is null || !_queue.Writer.TryComplete())
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop!.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        while (_queue.Reader.TryRead(out var left))
        {
            left.Result.TrySetCanceled();
        }

        _stopping.Dispose();
    }

    private bool TryCreateRequest(CompletionCall call, out GenerationRequest request, out CompletionOutcome invalid)
    {
        request = null!;
        invalid = null!;
        try
        {
            var options = new ChatOptions
            {
                Seed = call.Seed,
                MaxOutputTokens = call.MaxTokens,
                Temperature = call.Temperature is double t ? (float)t : null,
                TopP = call.TopP is double p ? (float)p : null,
                TopK = call.TopK,
                StopSequences = call.Stop is { Count: > 0 } stop ? [.. stop] : null,
            };
            if (call.Steps is int steps)
            {
                options.WithEsoLmSteps(steps);
            }

            if (call.AlphaEval is double alpha)
            {
                options.WithEsoLmAlphaEval(alpha);
            }

            if (call.Sampler is { } sampler)
            {
                options.WithEsoLmSampler(sampler);
            }

            request = call.Kind == CompletionKind.Chat
                ? _client.CreateGenerationRequest(call.Messages.Select(m => new ChatMessage(new ChatRole(m.Role), m.Content)), options)
                : _client.CreateGenerationRequest(call.Prompt, options);
            _client.Generator.Validate(request);
            return true;
        }
        catch (Exception ex) when (ex is ArgumentException or KeyNotFoundException)
        {
            invalid = CompletionOutcome.Invalid(ParamOf(ex, call), ex.Message);
            return false;
        }
    }

    /// <summary>Names the request field an error is about, in OpenAI's words.</summary>
    internal static string? ParamOf(Exception ex, CompletionCall call)
    {
        var text = (ex as ArgumentException)?.ParamName + " " + ex.Message;
        return ex is KeyNotFoundException ? (text.Contains("sampler", StringComparison.OrdinalIgnoreCase) ? "sampler" : null)
            : text.Contains("MaxNewTokens", StringComparison.Ordinal) || text.Contains("MaxOutputTokens", StringComparison.Ordinal) ? "max_tokens"
            : text.Contains("prompt", StringComparison.OrdinalIgnoreCase) || text.Contains("vocabulary", StringComparison.Ordinal)
                ? (call.Kind == CompletionKind.Chat ? "messages" : "prompt")
            : text.Contains("Steps", StringComparison.Ordinal) ? "steps"
            : text.Contains("AlphaEval", StringComparison.Ordinal) || text.Contains("α_eval", StringComparison.Ordinal) ? "alpha_eval"
            : text.Contains("TopP", StringComparison.Ordinal) ? "top_p"
            : text.Contains("TopK", StringComparison.Ordinal) ? "top_k"
            : text.Contains("Temperature", StringComparison.Ordinal) ? "temperature"
            : text.Contains("user message", StringComparison.Ordinal) ? "messages"
            : null;
    }

    private static CompletionOutcome ToOutcome(GenerationResult result) => new()
    {
        Text = result.Completion,
        Finish = result.FinishReason == GenerationFinishReason.Length ? CompletionFinish.Length : CompletionFinish.Stop,
        PromptTokens = result.PromptTokens,
        CompletionTokens = result.TokenIds.Count,
        Seed = unchecked((long)result.Seed),
    };

    private async Task BatchLoopAsync()
    {
        var reader = _queue!.Reader;
        var stopping = _stopping.Token;
        while (true)
        {
            // Wait for work before taking a slot, so an idle loop never blocks streaming requests that share the slots.
            if (!await reader.WaitToReadAsync(stopping).ConfigureAwait(false))
            {
                return;
            }

            await _slots.WaitAsync(stopping).ConfigureAwait(false);
            var batch = new List<Pending>();
            try
            {
                // Requests that arrived while the slot was busy are all here; a lone first one waits a short window for company.
                Collect(reader, batch);
                if (batch.Count < _options.MaxBatchSize && _options.BatchWindow > TimeSpan.Zero)
                {
                    await Task.Delay(_options.BatchWindow, stopping).ConfigureAwait(false);
                    Collect(reader, batch);
                }
            }
            catch
            {
                _slots.Release();
                foreach (var p in batch)
                {
                    p.Result.TrySetCanceled();
                }

                throw;
            }

            batch.RemoveAll(p => p.Result.Task.IsCompleted);
            if (batch.Count == 0)
            {
                _slots.Release();
                continue;
            }

            _ = Task.Run(() => RunBatch(batch), CancellationToken.None);
        }
    }

    private void Collect(ChannelReader<Pending> reader, List<Pending> batch)
    {
        while (batch.Count < _options.MaxBatchSize && reader.TryRead(out var next))
        {
            if (!next.Result.Task.IsCompleted)
            {
                batch.Add(next);
            }
        }
    }

    private void RunBatch(List<Pending> batch)
    {
        try
        {
            // The batch stops only when every client in it has gone away; a departed client's row is dropped at the end.
            using var all = new CancellationTokenSource();
            int live = batch.Count;
            var registrations = batch.Select(p => p.Cancellation.Register(() =>
            {
                if (Interlocked.Decrement(ref live) == 0)
                {
                    all.Cancel();
                }
            })).ToList();
            try
            {
                _metrics?.Batch(batch.Count);
                var results = _client.Generator.GenerateBatch([.. batch.Select(p => p.Request)], all.Token);
                for (int i = 0; i < batch.Count; i++)
                {
                    batch[i].Result.TrySetResult(results[i]);
                }
            }
            finally
            {
                foreach (var r in registrations)
                {
                    r.Dispose();
                }
            }
        }
        catch (OperationCanceledException)
        {
            foreach (var p in batch)
            {
                p.Result.TrySetCanceled();
            }
        }
        catch (Exception ex)
        {
            foreach (var p in batch)
            {
                p.Result.TrySetException(ex);
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    private sealed class Pending(GenerationRequest request, CancellationToken cancellation)
    {
        public GenerationRequest Request { get; } = request;

        public CancellationToken Cancellation { get; } = cancellation;

        public TaskCompletionSource<GenerationResult> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
