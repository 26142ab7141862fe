using EsoLM.Backends;
using EsoLM.Modeling;

namespace EsoLM.Sampling;

/// <summary>One token known in advance (infilling): it is fixed at <paramref name="Position"/> and never changed.</summary>
/// <param name="Position">Original position in [0, length).</param>
/// <param name="TokenId">Token id (in the vocabulary, not the mask id).</param>
public readonly record struct KnownToken(int Position, int TokenId);
