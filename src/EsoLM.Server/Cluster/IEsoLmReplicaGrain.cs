using EsoLM.Server.Serving;

namespace EsoLM.Server.Cluster;

/// <summary>
/// A model replica on an Orleans cluster. Activations are placed at random across silos and each serves calls from its
/// silo's <see cref="LocalCompletionBackend"/> (one model per silo, shared by its activations, with request batching).
/// </summary>
public interface IEsoLmReplicaGrain : IGrainWithIntegerKey
{
    /// <summary>Completes one call.</summary>
    /// <param name="request">The call.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The outcome.</returns>
    Task<CompletionOutcome> CompleteAsync(CompletionCall request, CancellationToken cancellationToken = default);

    /// <summary>Completes one call, streaming its text.</summary>
    /// <param name="request">The call.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The pieces.</returns>
    IAsyncEnumerable<CompletionPiece> StreamAsync(CompletionCall request, CancellationToken cancellationToken = default);
}
