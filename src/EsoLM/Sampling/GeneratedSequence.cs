using EsoLM.Backends;
using EsoLM.Modeling;

namespace EsoLM.Sampling;

/// <summary>One generated sequence.</summary>
/// <param name="RequestIndex">Index of the request in the call.</param>
/// <param name="SequenceId">The request's sequence id.</param>
/// <param name="Tokens">The sequence in original order, known tokens included, trimmed before the first generated EOS.</param>
/// <param name="EndedWithEos">Whether an EOS ended it (it is not included in <paramref name="Tokens"/>).</param>
/// <param name="DiffusionTokens">Tokens decoded by the diffusion phase.</param>
/// <param name="ForwardPasses">Forward passes this sequence took part in (its NFE).</param>
/// <param name="GenerationOrder">The original position decoded at each slot (known positions first).</param>
public sealed record GeneratedSequence(int RequestIndex, long SequenceId, int[] Tokens, bool EndedWithEos, int DiffusionTokens, int ForwardPasses,
    int[] GenerationOrder);
