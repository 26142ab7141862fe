using EsoLM.Randomness;
using EsoLM.Tensors;

namespace EsoLM.Sampling;

/// <summary>
/// What a <see cref="DecodingStrategy"/> sees of one sequence during a call, and the engine services it uses: adding a
/// window to the batch, reading the token the shared selector chose for an output row, committing tokens, and
/// counter-based randomness. Instances are pooled with the sampler and valid only during the strategy call they are
/// passed to.
/// </summary>
public sealed class DecodingSequence
{
    internal DecodingSequence(SamplingEngine engine, SequenceState state)
    {
        Engine = engine;
        State = state;
    }

    internal SamplingEngine Engine { get; }

    internal SequenceState State { get; }

    /// <summary>Index of the request in the call.</summary>
    public int RequestIndex => State.RequestIndex;

    /// <summary>The request's sequence id (part of every random key).</summary>
    public long SequenceId => State.SequenceId;

    /// <summary>The request's seed.</summary>
    public ulong Seed => State.Seed;

    /// <summary>Length L of the sequence (known tokens included).</summary>
    public int Length => State.Length;

    /// <summary>Known tokens (prompt and infilling); they occupy the first slots of <see cref="GenerationOrder"/>.</summary>
    public int KnownCount => State.Known;

    /// <summary>The model's mask token id (the value of every position not committed yet).</summary>
    public int MaskTokenId => Engine.MaskId;

    /// <summary>The model's vocabulary size (the width of a logits row).</summary>
    public int VocabSize => Engine.Model.Config.VocabSize;

    /// <summary>The sequence in original position order: committed tokens, the mask id elsewhere.</summary>
    public ReadOnlySpan<int> Tokens => State.ByPosition.AsSpan(0, State.Length);

    /// <summary>
    /// The original position decoded at each slot (known positions first). Strategies may reorder the slots after
    /// <see cref="KnownCount"/> in <see cref="DecodingStrategy.Initialize"/>; it is reported as <see cref="GeneratedSequence.GenerationOrder"/>.
    /// </summary>
    public Span<int> GenerationOrder => State.Order.AsSpan(0, State.Length);

    /// <summary>Tokens decoded by diffusion (reported in <see cref="GeneratedSequence.DiffusionTokens"/>); set by the strategy.</summary>
    public int DiffusionTokens
    {
        get => State.DiffusionTokens;
        set => State.DiffusionTokens = value;
    }

    /// <summary>The strategy's own per-sequence state. Kept with the pooled sequence across calls (reinitialize it in <see cref="DecodingStrategy.Initialize"/>).</summary>
    public object? StrategyState { get; set; }

    /// <summary>Output rows of the window this sequence added in the current step.</summary>
    public int OutputCount => State.OutCount;

    /// <summary>Whether the position holds a known (prompt or infilling) token.</summary>
    /// <param name="position">An original position in [0, <see cref="Length"/>).</param>
    /// <returns>True for a known position.</returns>
    public bool IsKnown(int position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(position, Length);
        return State.IsKnown[position];
    }

    /// <summary>
    /// Orders the unknown positions (slots <see cref="KnownCount"/>..) as the Eso-LM samplers do: the request's
    /// <see cref="SamplingRequest.GenerationOrder"/> when given, else a counter-based random order whose first
    /// <paramref name="diffusionTokens"/> positions are random and the rest ascending.
    /// </summary>
    /// <param name="request">The request (its explicit order, when set, is validated and applied).</param>
    /// <param name="diffusionTokens">Positions decoded by diffusion (0 = left to right).</param>
    public void DrawGenerationOrder(SamplingRequest request, int diffusionTokens)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentOutOfRangeException.ThrowIfNegative(diffusionTokens);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(diffusionTokens, Length - KnownCount);
        SamplingEngine.OrderUnknown(State, request, diffusionTokens, Engine.MaskId);
    }

    /// <summary>
    /// A counter-based uniform double in (0, 1): a pure function of (seed, sequence id, step, position), the draw the
    /// built-in ancestral strategies use for their unmask decisions. Independent of the batch and the thread count.
    /// </summary>
    /// <param name="step">The strategy's step.</param>
    /// <param name="position">The original position.</param>
    /// <returns>The draw.</returns>
    public double Uniform(int step, int position) => new CounterRandom(State.Seed, State.SequenceId).NextDouble(DrawPurpose.Unmask, step, position);

    /// <summary>
    /// Adds a window to this step's batched forward pass (the spans are copied). Row i feeds <paramref name="tokens"/>[i]
    /// at original position <paramref name="positions"/>[i] and is written to cache slot <paramref name="firstCacheSlot"/> + i;
    /// it attends to the cache slots in <paramref name="ranges"/>[i] (slots of earlier windows stay in the cache). Logits
    /// are computed for rows <paramref name="outputStart"/>..<paramref name="outputStart"/>+<paramref name="outputCount"/>−1.
    /// Call it at most once per <see cref="DecodingStrategy.AddWindow"/>.
    /// </summary>
    /// <param name="firstCacheSlot">The cache slot of the first row.</param>
    /// <param name="tokens">Token ids of the rows.</param>
    /// <param name="positions">Original positions of the rows (rotary positions).</param>
    /// <param name="ranges">Key ranges (cache slots) of the rows.</param>
    /// <param name="outputStart">First row whose logits are needed.</param>
    /// <param name="outputCount">Rows whose logits are needed (≥ 1).</param>
    public void AddWindow(int firstCacheSlot, ReadOnlySpan<int> tokens, ReadOnlySpan<int> positions, ReadOnlySpan<KeyRange> ranges, int outputStart,
        int outputCount)
    {
        int rows = tokens.Length;
        ArgumentOutOfRangeException.ThrowIfNegative(firstCacheSlot);
        ArgumentOutOfRangeException.ThrowIfZero(rows, nameof(tokens));
        if (positions.Length != rows || ranges.Length != rows)
        {
            throw new ArgumentException($"tokens, positions and ranges must have the same length (got {rows}, {positions.Length}, {ranges.Length}).",
                nameof(positions));
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(firstCacheSlot + rows, Length, nameof(firstCacheSlot));
        ArgumentOutOfRangeException.ThrowIfNegative(outputStart);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(outputStart + outputCount, rows, nameof(outputCount));
        var (t, p, r) = Engine.Scratch(rows);
        tokens.CopyTo(t);
        positions.CopyTo(p);
        ranges.CopyTo(r);
        Engine.AddWindow(State, firstCacheSlot, rows, outputStart, outputCount);
    }

    /// <summary>The token the engine's selector chose for output row <paramref name="row"/> (keyed by <see cref="DecodingStrategy.DrawKey"/>).</summary>
    /// <param name="row">The output row.</param>
    /// <param name="position">The original position the row decodes (the cache self-check replays tokens by position).</param>
    /// <returns>The token id.</returns>
    public int ChosenToken(int row, int position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, OutputCount);
        return Engine.Choose(State, row, position);
    }

    /// <summary>Commits a token at an original position (streamed as a <see cref="TokenCommit"/>).</summary>
    /// <param name="position">An unknown position in [0, <see cref="Length"/>).</param>
    /// <param name="token">The token id.</param>
    /// <param name="phase">Which phase produced it.</param>
    /// <param name="step">The strategy's step.</param>
    public void Commit(int position, int token, SamplingPhase phase, int step)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(position, Length);
        if (State.IsKnown[position])
        {
            throw new ArgumentException($"Position {position} holds a known token and cannot be committed.", nameof(position));
        }

        if ((uint)token >= (uint)VocabSize || token == MaskTokenId)
        {
            throw new ArgumentOutOfRangeException(nameof(token), token, $"The token must be in [0, {VocabSize}) and not the mask id {MaskTokenId}.");
        }

        Engine.CommitToken(State, position, token, phase, step);
    }
}
