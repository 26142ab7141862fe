using System.Runtime.CompilerServices;
using EsoLM.Server.Serving;

namespace EsoLM.Server.Cluster;

/// <summary>
/// Routes calls to <see cref="IEsoLmReplicaGrain"/> replicas, cycling through <see cref="ClusterRoutingOptions.ReplicaKeys"/>
/// keys. When a replica's silo is lost mid-call (the call throws or outlives <see cref="ClusterRoutingOptions.AttemptTimeout"/>),
/// the call is retried on another key, up to <see cref="ClusterRoutingOptions.MaxAttempts"/> times, then fails with an
/// exception that the HTTP layer answers as 503: every request gets an answer. The seed is fixed before the first attempt,
/// so a retried call gives the text it would have given.
/// </summary>
public sealed class ClusterCompletionBackend : ICompletionBackend
{
    private readonly IGrainFactory _grains;
    private readonly ClusterRoutingOptions _routing;
    private int _next = -1;

    /// <summary>Creates the router.</summary>
    /// <param name="grains">The grain factory (a silo's or a cluster client's).</param>
    /// <param name="modelId">The model id the replicas serve.</param>
    /// <param name="routing">Routing settings.</param>
    public ClusterCompletionBackend(IGrainFactory grains, string modelId, ClusterRoutingOptions? routing = null)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentException.ThrowIfNullOrEmpty(modelId);
        _grains = grains;
        ModelId = modelId;
        _routing = routing ?? new ClusterRoutingOptions();
        _routing.Validate();
    }

    /// <inheritdoc />
    public string ModelId { get; }

    /// <inheritdoc />
    public async Task<CompletionOutcome> CompleteAsync(CompletionCall request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var call = WithSeed(request);
        Exception? last = null;
        for (int attempt = 0; attempt < _routing.MaxAttempts; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_routing.AttemptTimeout);
            try
            {
                return await NextReplica().CompleteAsync(call, timeout.Token).WaitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OutOfMemoryException)
            {
                last = ex; // the replica's silo failed or went away: try another
            }
        }

        throw new ReplicaUnavailableException($"No replica answered after {_routing.MaxAttempts} attempts: {last?.Message}", last!);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<CompletionPiece> StreamAsync(CompletionCall request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var call = WithSeed(request);
        Exception? last = null;
        for (int attempt = 0; attempt < _routing.MaxAttempts; attempt++)
        {
            // Retry only until the first piece arrives: text already sent to the client cannot be taken back.
            var pieces = NextReplica().StreamAsync(call, cancellationToken).GetAsyncEnumerator(cancellationToken);
            bool any;
            try
            {
                any = await pieces.MoveNextAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OutOfMemoryException)
            {
                last = ex;
                await pieces.DisposeAsync().ConfigureAwait(false);
                continue;
            }

            try
            {
                while (any)
                {
                    yield return pieces.Current;
                    any = await pieces.MoveNextAsync().ConfigureAwait(false);
                }
            }
            finally
            {
                await pieces.DisposeAsync().ConfigureAwait(false);
            }

            yield break;
        }

        throw new ReplicaUnavailableException($"No replica answered after {_routing.MaxAttempts} attempts: {last?.Message}", last!);
    }

    private IEsoLmReplicaGrain NextReplica()
    {
        int key = (int)((uint)Interlocked.Increment(ref _next) % (uint)_routing.ReplicaKeys);
        return _grains.GetGrain<IEsoLmReplicaGrain>(key);
    }

    private static CompletionCall WithSeed(CompletionCall call) => call.Seed is null ? call with { Seed = Random.Shared.NextInt64() } : call;
}
