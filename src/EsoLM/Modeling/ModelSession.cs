using EsoLM.Backends;
using EsoLM.Masks;
using EsoLM.Tensors;

namespace EsoLM.Modeling;

/// <summary>
/// A single-threaded session over a shared <see cref="INetwork"/> (any backend): it owns a workspace, a reusable batch and
/// one KV cache per sequence, and offers the three forward modes of Eso-LMs on whole batches — diffusion mode over a
/// permuted sequence, sequential mode over the 2L input [z0 ; x], and the incremental cached step of spec §4.3.
/// </summary>
internal sealed class ModelSession
{
    private readonly ForwardBatch _batch = new();
    private readonly IKvCache[] _caches;
    private KeyRange[] _ranges = [];
    private int[] _tokens = [];
    private int[] _positions = [];

    /// <summary>Creates a session for up to <paramref name="batchSize"/> sequences with caches of <paramref name="cacheCapacity"/> slots.</summary>
    public ModelSession(INetwork model, int batchSize, int cacheCapacity)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cacheCapacity, 1);
        Model = model;
        Workspace = model.CreateWorkspace();
        _caches = new IKvCache[batchSize];
        for (int i = 0; i < batchSize; i++)
        {
            _caches[i] = model.CreateCache(cacheCapacity);
        }
    }

    /// <summary>The network.</summary>
    public INetwork Model { get; }

    /// <summary>The session's scratch buffers.</summary>
    public IForwardWorkspace Workspace { get; }

    /// <summary>The per-sequence caches.</summary>
    public IReadOnlyList<IKvCache> Caches => _caches;

    /// <summary>Maximum number of sequences per call.</summary>
    public int BatchSize => _caches.Length;

    /// <summary>
    /// Diffusion mode: <paramref name="batch"/> rows of <paramref name="length"/> tokens already in slot (permuted) order,
    /// each at its original position; causal (B) or mixed2 with the row's clean count (A). Writes logits
    /// [batch, length, V] before zero-masking.
    /// </summary>
    public void Diffusion(EsoLmVariant variant, int batch, int length, ReadOnlySpan<int> sortedTokens, ReadOnlySpan<int> positions,
        ReadOnlySpan<int> numClean, Span<float> logits)
    {
        CheckBatch(batch, length, sortedTokens, positions, numClean, length);
        EnsureScratch(length);
        _batch.Clear();
        for (int b = 0; b < batch; b++)
        {
            MaskRules.Diffusion(variant, length, numClean[b], _ranges);
            _batch.Add(_caches[b], 0, sortedTokens.Slice(b * length, length), positions.Slice(b * length, length),
                _ranges.AsSpan(0, length), 0, length);
        }

        Model.Forward(_batch, Workspace, ForwardOutput.Logits, logits);
    }

    /// <summary>
    /// Sequential mode: the 2L input [z0 ; x] in slot order, both halves at the same original positions, under the
    /// block-size-1 sequential mask (B) or its prefix-LM form (A). Writes the logits of the first L (z-part) rows:
    /// [batch, length, V].
    /// </summary>
    public void Sequential(EsoLmVariant variant, int batch, int length, ReadOnlySpan<int> sortedMasked, ReadOnlySpan<int> sortedClean,
        ReadOnlySpan<int> positions, ReadOnlySpan<int> numClean, Span<float> logits)
    {
        CheckBatch(batch, length, sortedMasked, positions, numClean, 2 * length);
        if (sortedClean.Length < batch * length)
        {
            throw new ArgumentException($"sortedClean needs {batch * length} ids, got {sortedClean.Length}.", nameof(sortedClean));
        }

        EnsureScratch(2 * length);
        _batch.Clear();
        for (int b = 0; b < batch; b++)
        {
            MaskRules.Sequential(variant, length, numClean[b], _ranges);
            sortedMasked.Slice(b * length, length).CopyTo(_tokens);
            sortedClean.Slice(b * length, length).CopyTo(_tokens.AsSpan(length));
            positions.Slice(b * length, length).CopyTo(_positions);
            positions.Slice(b * length, length).CopyTo(_positions.AsSpan(length));
            _batch.Add(_caches[b], 0, _tokens.AsSpan(0, 2 * length), _positions.AsSpan(0, 2 * length), _ranges.AsSpan(0, 2 * length), 0, length);
        }

        Model.Forward(_batch, Workspace, ForwardOutput.Logits, logits);
    }

    /// <summary>
    /// One cached step (spec §4.3) for every row: feeds a window of <paramref name="window"/> tokens per row (the previous
    /// step's now-clean tokens, then this step's masks) at cache slots <paramref name="writeSlot"/>.. . The window sees the
    /// whole cache before it and is causal inside; its K/V overwrite whatever the slots held (the tentative mask entries
    /// of the previous step). Writes logits for window rows <paramref name="outputStart"/>.. : [batch, window − outputStart, V].
    /// </summary>
    public void CachedStep(int batch, int writeSlot, int window, ReadOnlySpan<int> tokens, ReadOnlySpan<int> positions, int outputStart,
        Span<float> logits)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batch, BatchSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        if (tokens.Length < batch * window || positions.Length < batch * window)
        {
            throw new ArgumentException($"tokens and positions need {batch * window} entries.", nameof(tokens));
        }

        EnsureScratch(window);
        MaskRules.CausalWindow(writeSlot, window, _ranges);
        _batch.Clear();
        for (int b = 0; b < batch; b++)
        {
            _batch.Add(_caches[b], writeSlot, tokens.Slice(b * window, window), positions.Slice(b * window, window),
                _ranges.AsSpan(0, window), outputStart, window - outputStart);
        }

        Model.Forward(_batch, Workspace, ForwardOutput.Logits, logits);
    }

    private void CheckBatch(int batch, int length, ReadOnlySpan<int> tokens, ReadOnlySpan<int> positions, ReadOnlySpan<int> numClean, int slots)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batch, BatchSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        if (slots > _caches[0].Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length,
                $"This mode needs {slots} cache slots but the session's caches hold {_caches[0].Capacity}.");
        }

        if (tokens.Length < batch * length || positions.Length < batch * length || numClean.Length < batch)
        {
            throw new ArgumentException($"Expected {batch}×{length} tokens and positions and {batch} clean counts.", nameof(tokens));
        }
    }

    private void EnsureScratch(int n)
    {
        if (_ranges.Length < n)
        {
            _ranges = new KeyRange[n];
            _tokens = new int[n];
            _positions = new int[n];
        }
    }
}
