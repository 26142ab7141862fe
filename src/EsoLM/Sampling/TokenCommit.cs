using EsoLM.Backends;
using EsoLM.Modeling;

namespace EsoLM.Sampling;

/// <summary>One token written during generation (streamed).</summary>
/// <param name="RequestIndex">Index of the request in the call.</param>
/// <param name="SequenceId">The request's sequence id.</param>
/// <param name="Position">Original position.</param>
/// <param name="TokenId">The token.</param>
/// <param name="Phase">Which phase produced it.</param>
/// <param name="Step">The sequence's step (−1 for known tokens).</param>
public readonly record struct TokenCommit(int RequestIndex, long SequenceId, int Position, int TokenId, SamplingPhase Phase, int Step);
