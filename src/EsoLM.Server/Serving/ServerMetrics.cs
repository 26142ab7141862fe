using System.Diagnostics.Metrics;

namespace EsoLM.Server.Serving;

/// <summary>
/// The server's instruments, on the meter <see cref="MeterName"/> (collect them with OpenTelemetry's
/// <c>AddMeter("EsoLM.Server")</c>): requests by endpoint and status, completion tokens, request duration, tokens per
/// second, batch sizes and the queue length.
/// </summary>
public sealed class ServerMetrics : IDisposable
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "EsoLM.Server";

    private readonly Meter _meter;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _tokens;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _tokensPerSecond;
    private readonly Histogram<int> _batchSize;
    private int _queued;

    /// <summary>Creates the instruments.</summary>
    /// <param name="meterFactory">The DI meter factory, or null for a standalone meter.</param>
    public ServerMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _requests = _meter.CreateCounter<long>("esolm.server.requests", "{request}", "Requests answered, by endpoint and HTTP status.");
        _tokens = _meter.CreateCounter<long>("esolm.server.completion_tokens", "{token}", "Completion tokens generated.");
        _duration = _meter.CreateHistogram<double>("esolm.server.request.duration", "s", "Time from admission to the last byte.");
        _tokensPerSecond = _meter.CreateHistogram<double>("esolm.server.tokens_per_second", "{token}/s", "Completion tokens per second of a request.");
        _batchSize = _meter.CreateHistogram<int>("esolm.server.batch.size", "{request}", "Requests run in one sampler batch.");
        _meter.CreateObservableGauge("esolm.server.queue.length", () => Volatile.Read(ref _queued), "{request}", "Requests admitted and not yet answered.");
    }

    /// <summary>Requests admitted and not yet answered.</summary>
    public int QueueLength => Volatile.Read(ref _queued);

    internal void Admitted() => Interlocked.Increment(ref _queued);

    internal void Released() => Interlocked.Decrement(ref _queued);

    internal void Answered(string endpoint, int status) =>
        _requests.Add(1, new KeyValuePair<string, object?>("endpoint", endpoint), new KeyValuePair<string, object?>("status", status));

    internal void Completed(int tokens, TimeSpan elapsed)
    {
        _tokens.Add(tokens);
        _duration.Record(elapsed.TotalSeconds);
        if (elapsed > TimeSpan.Zero)
        {
            _tokensPerSecond.Record(tokens / elapsed.TotalSeconds);
        }
    }

    internal void Batch(int size) => _batchSize.Record(size);

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();
}
