using EsoLM.Backends;
using EsoLM.Modeling;

namespace EsoLM.Sampling;

/// <summary>
/// One sequence to generate. Its output depends only on (<see cref="Seed"/>, <see cref="SequenceId"/>, the model and the
/// options): never on the batch it is in or on the thread count.
/// </summary>
public sealed record SamplingRequest
{
    /// <summary>Identifies the sequence's random streams (generation order, token noise). Sequences sharing a seed share the step plan.</summary>
    public long SequenceId { get; init; }

    /// <summary>The seed.</summary>
    public ulong Seed { get; init; }

    /// <summary>A prompt: tokens at positions 0..n−1.</summary>
    public IReadOnlyList<int>? Prompt { get; init; }

    /// <summary>Known tokens at any positions (infilling); may be combined with <see cref="Prompt"/> but not overlap it.</summary>
    public IReadOnlyList<KnownToken>? KnownTokens { get; init; }

    /// <summary>
    /// Advanced (replaying a reference trace): the order in which the unknown positions are decoded. Must be a
    /// permutation of the positions not given by <see cref="Prompt"/>/<see cref="KnownTokens"/>. Only the Eso-LM
    /// samplers use it. Default: drawn from (seed, sequence id) with the sequential tail sorted ascending.
    /// </summary>
    public IReadOnlyList<int>? GenerationOrder { get; init; }
}
