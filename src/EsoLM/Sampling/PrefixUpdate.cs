using EsoLM.Backends;
using EsoLM.Modeling;

namespace EsoLM.Sampling;

/// <summary>
/// The append-only part of one sequence grew: positions 0..<see cref="Tokens"/>.Length−1 are all committed and can no
/// longer change (the output is trimmed before an EOS, so a prefix never includes it).
/// </summary>
/// <param name="RequestIndex">Index of the request in the call.</param>
/// <param name="SequenceId">The request's sequence id.</param>
/// <param name="PreviousLength">Prefix length before this update.</param>
/// <param name="Tokens">The whole committed prefix.</param>
/// <param name="Text">The prefix decoded by <see cref="SamplerOptions.Decoder"/>, when one is set.</param>
/// <param name="NewText">The text appended since the previous update (the whole text if decoding changed earlier characters).</param>
/// <param name="Finished">Whether the sequence is complete (all positions committed, or an EOS ended it).</param>
public sealed record PrefixUpdate(int RequestIndex, long SequenceId, int PreviousLength, IReadOnlyList<int> Tokens, string? Text, string? NewText,
    bool Finished);
