using EsoLM.Backends;
using EsoLM.Modeling;

namespace EsoLM.Sampling;

/// <summary>One token known in advance (infilling): it is fixed at <paramref name="Position"/> and never changed.</summary>
/// <param name="Position">Original position in [0, length).</param>
/// <param name="TokenId">Token id (in the vocabulary, not the mask id).</param>
public readonly record struct KnownToken(int Position, int TokenId);

/// <summary>Which part of generation produced a token.</summary>
public enum SamplingPhase
{
    /// <summary>Given by the request (prompt prefix or infilling).</summary>
    Known = 0,

    /// <summary>Decoded in parallel by masked diffusion.</summary>
    Diffusion = 1,

    /// <summary>Decoded one at a time, left to right.</summary>
    Sequential = 2,
}

/// <summary>Decodes token ids to text (for streaming); hook for a <c>Tokenizer</c>.</summary>
/// <param name="tokens">The ids.</param>
/// <returns>The text.</returns>
public delegate string TokenDecoder(ReadOnlySpan<int> tokens);

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

/// <summary>One token written during generation (streamed).</summary>
/// <param name="RequestIndex">Index of the request in the call.</param>
/// <param name="SequenceId">The request's sequence id.</param>
/// <param name="Position">Original position.</param>
/// <param name="TokenId">The token.</param>
/// <param name="Phase">Which phase produced it.</param>
/// <param name="Step">The sequence's step (−1 for known tokens).</param>
public readonly record struct TokenCommit(int RequestIndex, long SequenceId, int Position, int TokenId, SamplingPhase Phase, int Step);

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

/// <summary>What one sampler step changed (streaming). The last update carries the <see cref="Result"/>.</summary>
/// <param name="Step">Index of the batch step (0-based; known tokens are reported with the first update).</param>
/// <param name="ForwardPasses">Forward passes so far.</param>
/// <param name="Commits">Tokens written in this step.</param>
/// <param name="Prefixes">Sequences whose committed prefix grew (or that finished).</param>
/// <param name="Result">The final result, on the last update only.</param>
public sealed record SamplingUpdate(int Step, int ForwardPasses, IReadOnlyList<TokenCommit> Commits, IReadOnlyList<PrefixUpdate> Prefixes,
    SamplingResult? Result);

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

/// <summary>The outcome of a generation call.</summary>
/// <param name="Sequences">One per request, in request order.</param>
/// <param name="ForwardPasses">Batched forward passes (network calls, NFE of the batch).</param>
/// <param name="TokensProcessed">Window rows fed to the network over all passes and sequences (the work done).</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record SamplingResult(IReadOnlyList<GeneratedSequence> Sequences, int ForwardPasses, long TokensProcessed, TimeSpan Elapsed);

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
