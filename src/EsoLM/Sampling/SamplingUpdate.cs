using EsoLM.Backends;
using EsoLM.Modeling;

namespace EsoLM.Sampling;

/// <summary>What one sampler step changed (streaming). The last update carries the <see cref="Result"/>.</summary>
/// <param name="Step">Index of the batch step (0-based; known tokens are reported with the first update).</param>
/// <param name="ForwardPasses">Forward passes so far.</param>
/// <param name="Commits">Tokens written in this step.</param>
/// <param name="Prefixes">Sequences whose committed prefix grew (or that finished).</param>
/// <param name="Result">The final result, on the last update only.</param>
public sealed record SamplingUpdate(int Step, int ForwardPasses, IReadOnlyList<TokenCommit> Commits, IReadOnlyList<PrefixUpdate> Prefixes,
    SamplingResult? Result);
