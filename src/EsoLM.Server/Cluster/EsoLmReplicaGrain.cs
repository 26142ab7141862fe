using System.Runtime.CompilerServices;
using EsoLM.Server.Serving;
using Orleans.Concurrency;
using Orleans.Placement;
using Orleans.Runtime;

namespace EsoLM.Server.Cluster;

/// <summary>
/// The replica grain: reentrant (its silo's backend batches and bounds the work) and randomly placed, so that the
/// integer keys a front end cycles through spread across the silos.
/// </summary>
[Reentrant]
[RandomPlacement]
public sealed class EsoLmReplicaGrain : Grain, IEsoLmReplicaGrain
{
    private readonly LocalCompletionBackend _backend;
    private readonly string _silo;

    /// <summary>Creates the grain over its silo's backend.</summary>
    /// <param name="backend">The silo's model backend (register it with <c>AddEsoLmServer</c>).</param>
    /// <param name="silo">The silo's details (for the replica name in answers).</param>
    public EsoLmReplicaGrain(LocalCompletionBackend backend, ILocalSiloDetails silo)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(silo);
        _backend = backend;
        _silo = silo.SiloAddress.ToString();
    }

    /// <inheritdoc />
    public async Task<CompletionOutcome> CompleteAsync(CompletionCall request, CancellationToken cancellationToken = default) =>
        (await _backend.CompleteAsync(request, cancellationToken)) with { Replica = _silo };

    /// <inheritdoc />
    public async IAsyncEnumerable<CompletionPiece> StreamAsync(CompletionCall request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var piece in _backend.StreamAsync(request, cancellationToken))
        {
            yield return piece.Outcome is { } outcome ? piece with { Outcome = outcome with { Replica = _silo } } : piece;
        }
    }
}
