using EsoLM.Backends;
using EsoLM.Modeling;

namespace EsoLM.Sampling;

/// <summary>
/// A generation strategy (Eso-LM A/B, MDLM, block diffusion, AR) over one model. A sampler keeps its workspaces, caches
/// and batch buffers between calls, so repeated calls allocate (almost) nothing per step; it runs one call at a time
/// (create one per concurrent caller — they can share the model).
/// </summary>
public interface ISampler
{
    /// <summary>A short name, e.g. <c>esolm-b</c>, <c>mdlm</c>, <c>bd3lm</c>, <c>ar</c>.</summary>
    string Name { get; }

    /// <summary>The network.</summary>
    INetwork Model { get; }

    /// <summary>Generates every request in one batch.</summary>
    SamplingResult Generate(IReadOnlyList<SamplingRequest> requests, CancellationToken cancellationToken = default);

    /// <summary>Generates every request in one batch, reporting every step's commits and prefix growth; cancellation is checked every step.</summary>
    IAsyncEnumerable<SamplingUpdate> GenerateStreamingAsync(IReadOnlyList<SamplingRequest> requests, CancellationToken cancellationToken = default);
}
