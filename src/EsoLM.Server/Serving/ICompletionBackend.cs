namespace EsoLM.Server.Serving;

/// <summary>
/// Where the HTTP layer sends completion calls: the model in this process (<see cref="LocalCompletionBackend"/>) or replica
/// grains on an Orleans cluster (<see cref="Cluster.ClusterCompletionBackend"/>). Request errors come back as
/// <see cref="CompletionOutcome.Error"/>; an exception means the backend itself failed.
/// </summary>
public interface ICompletionBackend
{
    /// <summary>The model id served.</summary>
    string ModelId { get; }

    /// <summary>Completes one call.</summary>
    /// <param name="request">The call.</param>
    /// <param name="cancellationToken">Cancels the call (the client went away).</param>
    /// <returns>The outcome.</returns>
    Task<CompletionOutcome> CompleteAsync(CompletionCall request, CancellationToken cancellationToken);

    /// <summary>Completes one call, streaming the committed text as it grows; the last piece carries the outcome.</summary>
    /// <param name="request">The call.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The pieces.</returns>
    IAsyncEnumerable<CompletionPiece> StreamAsync(CompletionCall request, CancellationToken cancellationToken);
}
