namespace EsoLM.Server.Serving;

/// <summary>Settings of the OpenAI-compatible server.</summary>
public sealed class EsoLmServerOptions
{
    /// <summary>
    /// Requests admitted at once (running or waiting); one more is answered 429. Default 64.
    /// </summary>
    public int MaxQueueLength { get; set; } = 64;

    /// <summary>
    /// Collect concurrent non-streaming requests with equal sampler settings into one sampler batch (a step then feeds the
    /// network several rows at once). Default on.
    /// </summary>
    public bool EnableBatching { get; set; } = true;

    /// <summary>Largest sampler batch. Default 16.</summary>
    public int MaxBatchSize { get; set; } = 16;

    /// <summary>How long the first request of a batch waits for others. Default 2 ms.</summary>
    public TimeSpan BatchWindow { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// Batches (or single requests) that run at once. Default 1: the kernels already use every core, so running more at
    /// once only interleaves them.
    /// </summary>
    public int MaxConcurrentBatches { get; set; } = 1;

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxQueueLength, 1, nameof(MaxQueueLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBatchSize, 1, nameof(MaxBatchSize));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxBatchSize, 256, nameof(MaxBatchSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentBatches, 1, nameof(MaxConcurrentBatches));
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchWindow, TimeSpan.Zero, nameof(BatchWindow));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(BatchWindow, TimeSpan.FromSeconds(1), nameof(BatchWindow));
    }
}
