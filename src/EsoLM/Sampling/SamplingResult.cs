using EsoLM.Backends;
using EsoLM.Modeling;

namespace EsoLM.Sampling;

/// <summary>The outcome of a generation call.</summary>
/// <param name="Sequences">One per request, in request order.</param>
/// <param name="ForwardPasses">Batched forward passes (network calls, NFE of the batch).</param>
/// <param name="TokensProcessed">Window rows fed to the network over all passes and sequences (the work done).</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record SamplingResult(IReadOnlyList<GeneratedSequence> Sequences, int ForwardPasses, long TokensProcessed, TimeSpan Elapsed);
