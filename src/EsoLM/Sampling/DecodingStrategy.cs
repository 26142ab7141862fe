
namespace EsoLM.Sampling;

/// <summary>
/// A decoding strategy: the part of a sampler that decides, per sequence, which positions to feed the network in the
/// next pass, under which attention key ranges, and which positions to commit from its output. Everything else —
/// batching sequences into one forward pass, KV caches, token selection (temperature, top-k/p, counter-based Gumbel
/// noise), the committed-prefix and EOS bookkeeping, streaming and cancellation — stays in the one engine behind
/// <see cref="StrategySampler"/>. The built-in samplers (Eso-LM A/B, MDLM, BD3, AR) are strategies too.
/// </summary>
/// <remarks>
/// One instance serves one sampler, which runs one call at a time, so a strategy may keep scratch buffers in fields;
/// per-sequence state belongs in <see cref="DecodingSequence.StrategyState"/>. Each engine step calls
/// <see cref="AddWindow"/> for every unfinished sequence, runs one batched forward pass, then (for the sequences that
/// added a window) chooses a token for every output row keyed by <see cref="DrawKey"/> and calls <see cref="Commit"/>.
/// </remarks>
public abstract class DecodingStrategy
{
    /// <summary>
    /// Prepares a sequence after the engine placed its known tokens: <see cref="DecodingSequence.GenerationOrder"/> holds
    /// the known positions first (ascending), then the unknown ones (ascending), for the strategy to reorder.
    /// </summary>
    /// <param name="sequence">The sequence (pooled: its buffers are reused across calls).</param>
    /// <param name="request">The request it came from.</param>
    public abstract void Initialize(DecodingSequence sequence, SamplingRequest request);

    /// <summary>
    /// Adds the sequence's next window to the batch with <see cref="DecodingSequence.AddWindow"/>, or returns false when
    /// the sequence needs no more passes (it is then finished).
    /// </summary>
    /// <param name="sequence">The sequence.</param>
    /// <returns>Whether a window was added.</returns>
    public abstract bool AddWindow(DecodingSequence sequence);

    /// <summary>
    /// The (step, original position) that keys the token-selection noise of output row <paramref name="row"/> of the pass
    /// just run. Keys must not depend on the batch or the thread count; distinct rows of a sequence should have distinct keys.
    /// </summary>
    /// <param name="sequence">The sequence.</param>
    /// <param name="row">The output row (0 ≤ row &lt; the window's output count).</param>
    /// <returns>The key.</returns>
    public abstract (int Step, int Position) DrawKey(DecodingSequence sequence, int row);

    /// <summary>
    /// Commits tokens for the sequence's output rows: read each row's token with <see cref="DecodingSequence.ChosenToken"/>
    /// and write it with <see cref="DecodingSequence.Commit"/>.
    /// </summary>
    /// <param name="sequence">The sequence.</param>
    /// <param name="logits">The window's output rows × vocabulary logits (for strategies that use confidences).</param>
    public abstract void Commit(DecodingSequence sequence, ReadOnlySpan<float> logits);
}
