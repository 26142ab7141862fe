using EsoLM.Masks;
using EsoLM.Tensors;
using static TorchSharp.torch;

namespace EsoLM.TorchSharp;

/// <summary>
/// One window of a batched forward call: <see cref="RowCount"/> rows of sequence <see cref="Sequence"/> (an index into the
/// session's <see cref="TorchKvCache"/>), written at cache slots <see cref="WriteSlot"/>.., of which rows
/// <see cref="OutputStart"/>.. (<see cref="OutputCount"/> of them) return logits.
/// </summary>
/// <param name="Sequence">Cache sequence index.</param>
/// <param name="WriteSlot">First cache slot written.</param>
/// <param name="RowCount">Rows in the window.</param>
/// <param name="OutputStart">First row that returns logits.</param>
/// <param name="OutputCount">Rows that return logits.</param>
public readonly record struct TorchWindow(int Sequence, int WriteSlot, int RowCount, int OutputStart, int OutputCount);

/// <summary>
/// A single-threaded session over a <see cref="TorchDiffusionTransformer"/> with a device KV cache per sequence: the
/// three forward modes of Eso-LMs (diffusion, sequential 2L, cached window) and the general windowed forward the samplers
/// use. The inputs of a call (ids, positions, key ranges, slot indices) are uploaded once before the layer loop; the mask
/// is built on the device; only the requested rows' logits come back to the host.
/// </summary>
public sealed class TorchModelSession : IDisposable
{
    private readonly TorchKvCache _cache;
    private KeyRange[] _ranges = [];
    private int[] _tokens = [];
    private int[] _positions = [];
    private TorchWindow[] _windows = [];

    /// <summary>Creates a session for up to <paramref name="batchSize"/> sequences of <paramref name="cacheCapacity"/> slots.</summary>
    public TorchModelSession(TorchDiffusionTransformer model, int batchSize, int cacheCapacity)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(cacheCapacity, 1);
        Model = model;
        _cache = new TorchKvCache(model, batchSize, cacheCapacity);
    }

    /// <summary>The network.</summary>
    public TorchDiffusionTransformer Model { get; }

    /// <summary>The device KV cache.</summary>
    public TorchKvCache Cache => _cache;

    /// <summary>Maximum number of sequences per call.</summary>
    public int BatchSize => _cache.Sequences;

    /// <summary>Diffusion mode, as <c>ModelSession.Diffusion</c>: logits [batch, length, V] before zero-masking.</summary>
    public void Diffusion(EsoLmVariant variant, int batch, int length, ReadOnlySpan<int> sortedTokens, ReadOnlySpan<int> positions,
        ReadOnlySpan<int> numClean, Span<float> logits)
    {
        CheckBatch(batch, length, sortedTokens, positions, numClean, length);
        Ensure(batch, batch * length);
        for (int b = 0; b < batch; b++)
        {
            MaskRules.Diffusion(variant, length, numClean[b], _ranges.AsSpan(b * length, length));
            _windows[b] = new TorchWindow(b, 0, length, 0, length);
        }

        Forward(_windows.AsSpan(0, batch), sortedTokens[..(batch * length)], positions[..(batch * length)], _ranges.AsSpan(0, batch * length), logits);
    }

    /// <summary>Sequential (2L) mode, as <c>ModelSession.Sequential</c>: logits of the z-part rows [batch, length, V].</summary>
    public void Sequential(EsoLmVariant variant, int batch, int length, ReadOnlySpan<int> sortedMasked, ReadOnlySpan<int> sortedClean,
        ReadOnlySpan<int> positions, ReadOnlySpan<int> numClean, Span<float> logits)
    {
        CheckBatch(batch, length, sortedMasked, positions, numClean, 2 * length);
        if (sortedClean.Length < batch * length)
        {
            throw new ArgumentException($"sortedClean needs {batch * length} ids, got {sortedClean.Length}.", nameof(sortedClean));
        }

        int n = 2 * length;
        Ensure(batch, batch * n);
        for (int b = 0; b < batch; b++)
        {
            MaskRules.Sequential(variant, length, numClean[b], _ranges.AsSpan(b * n, n));
            sortedMasked.Slice(b * length, length).CopyTo(_tokens.AsSpan(b * n));
            sortedClean.Slice(b * length, length).CopyTo(_tokens.AsSpan((b * n) + length));
            positions.Slice(b * length, length).CopyTo(_positions.AsSpan(b * n));
            positions.Slice(b * length, length).CopyTo(_positions.AsSpan((b * n) + length));
            _windows[b] = new TorchWindow(b, 0, n, 0, length);
        }

        Forward(_windows.AsSpan(0, batch), _tokens.AsSpan(0, batch * n), _positions.AsSpan(0, batch * n), _ranges.AsSpan(0, batch * n), logits);
    }

    /// <summary>One cached step, as <c>ModelSession.CachedStep</c>: logits [batch, window − outputStart, V].</summary>
    public void CachedStep(int batch, int writeSlot, int window, ReadOnlySpan<int> tokens, ReadOnlySpan<int> positions, int outputStart,
        Span<float> logits)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batch, BatchSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(outputStart);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(outputStart, window);
        if (tokens.Length < batch * window || positions.Length < batch * window)
        {
            throw new ArgumentException($"tokens and positions need {batch * window} entries.", nameof(tokens));
        }

        Ensure(batch, batch * window);
        for (int b = 0; b < batch; b++)
        {
            MaskRules.CausalWindow(writeSlot, window, _ranges.AsSpan(b * window, window));
            _windows[b] = new TorchWindow(b, writeSlot, window, outputStart, window - outputStart);
        }

        Forward(_windows.AsSpan(0, batch), tokens[..(batch * window)], positions[..(batch * window)], _ranges.AsSpan(0, batch * window), logits);
    }

    /// <summary>
    /// The general forward: windows of possibly different lengths (rows concatenated in window order in
    /// <paramref name="tokens"/>, <paramref name="positions"/> and <paramref name="visible"/>). Each window's K/V are
    /// written into its sequence's cache at its write slots; each row attends to the cache slots of its key range.
    /// Writes the output rows' logits, windows in order: [Σ OutputCount, V].
    /// </summary>
    public void Forward(ReadOnlySpan<TorchWindow> windows, ReadOnlySpan<int> tokens, ReadOnlySpan<int> positions, ReadOnlySpan<KeyRange> visible,
        Span<float> logits)
    {
        var cfg = Model.Config;
        int v = cfg.VocabSize, d = cfg.HiddenSize, cap = _cache.Capacity;
        int count = windows.Length;
        if (count == 0)
        {
            return;
        }

        int rows = 0, outRows = 0, nmax = 0, kmax = 1;
        foreach (var w in windows)
        {
            if ((uint)w.Sequence >= (uint)_cache.Sequences)
            {
                throw new ArgumentOutOfRangeException(nameof(windows), w.Sequence, $"Sequence index {w.Sequence} is outside the cache's {_cache.Sequences} sequences.");
            }

            ArgumentOutOfRangeException.ThrowIfLessThan(w.RowCount, 1, nameof(windows));
            if (w.WriteSlot < 0 || w.WriteSlot + w.RowCount > cap)
            {
                throw new ArgumentOutOfRangeException(nameof(windows), w.RowCount,
                    $"A window of {w.RowCount} rows written at slot {w.WriteSlot} exceeds the cache capacity {cap}.");
            }

            if (w.OutputStart < 0 || w.OutputCount < 0 || w.OutputStart + w.OutputCount > w.RowCount)
            {
                throw new ArgumentOutOfRangeException(nameof(windows), w.OutputCount, $"Output rows [{w.OutputStart}, {w.OutputStart + w.OutputCount}) exceed the window of {w.RowCount} rows.");
            }

            rows += w.RowCount;
            outRows += w.OutputCount;
            nmax = Math.Max(nmax, w.RowCount);
            kmax = Math.Max(kmax, w.WriteSlot + w.RowCount);
        }

        if (tokens.Length != rows || positions.Length != rows || visible.Length != rows)
        {
            throw new ArgumentException($"The windows hold {rows} rows; tokens, positions and visible have {tokens.Length}, {positions.Length}, {visible.Length}.", nameof(tokens));
        }

        if (logits.Length < outRows * v)
        {
            throw new ArgumentException($"logits holds {logits.Length} values; {outRows} output rows × {v} vocabulary = {outRows * v} needed.", nameof(logits));
        }

        for (int r = 0; r < rows; r++)
        {
            if ((uint)tokens[r] >= (uint)v)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[r], $"Token id {tokens[r]} at row {r} is outside the vocabulary [0, {v}).");
            }

            if ((uint)positions[r] >= (uint)cfg.ContextLength)
            {
                throw new ArgumentOutOfRangeException(nameof(positions), positions[r], $"Position {positions[r]} at row {r} is outside the context [0, {cfg.ContextLength}).");
            }

            var k = visible[r];
            if (k.Start0 < 0 || k.Start0 > k.End0 || k.Start1 < 0 || k.Start1 > k.End1 || k.End0 > cap || k.End1 > cap || k.Count == 0)
            {
                throw new ArgumentOutOfRangeException(nameof(visible), k, $"Row {r}: key ranges must be ordered, non-empty and inside the cache capacity {cap}.");
            }

            kmax = Math.Max(kmax, k.MaxEnd);
        }

        // Host-side index building (once per call, before the layer loop).
        var tok = new long[count * nmax];
        var pos = new long[count * nmax];
        var ranges = new int[count * nmax * 4];
        var src = new long[rows];
        var dst = new long[rows];
        var outIdx = new long[outRows];
        var seqIdx = new long[count];
        bool identity = true;
        int row = 0, o = 0;
        for (int b = 0; b < count; b++)
        {
            var w = windows[b];
            seqIdx[b] = w.Sequence;
            identity &= w.Sequence == b;
            for (int i = 0; i < nmax; i++)
            {
                int pr = (b * nmax) + i;
                if (i < w.RowCount)
                {
                    tok[pr] = tokens[row + i];
                    pos[pr] = positions[row + i];
                    var k = visible[row + i];
                    ranges[4 * pr] = k.Start0;
                    ranges[(4 * pr) + 1] = k.End0;
                    ranges[(4 * pr) + 2] = k.Start1;
                    ranges[(4 * pr) + 3] = k.End1;
                    src[row + i] = pr;
                    dst[row + i] = ((long)w.Sequence * cap) + w.WriteSlot + i;
                }
                else
                {
                    // Padding row: sees key 0 only (so its softmax is defined); it writes nothing and returns nothing.
                    ranges[(4 * pr) + 1] = 1;
                }
            }

            for (int j = 0; j < w.OutputCount; j++)
            {
                outIdx[o++] = (b * nmax) + w.OutputStart + j;
            }

            row += w.RowCount;
        }

        var dev = Model.Device;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var tTok = tensor(tok, [count, nmax], ScalarType.Int64, dev);
        var tPos = tensor(pos, [count, nmax], ScalarType.Int64, dev);
        var mask = TorchTensors.MaskFromRanges(ranges, count, nmax, kmax, dev);
        var tSrc = tensor(src, ScalarType.Int64, dev);
        var tDst = tensor(dst, ScalarType.Int64, dev);
        var tOut = tensor(outIdx, ScalarType.Int64, dev);
        var tSeq = identity ? null : tensor(seqIdx, ScalarType.Int64, dev);
        var cond = Model.GetConditioning(grad: false);
        long sequences = _cache.Sequences;
        var h = Model.Trunk(tTok, tPos, mask, cond, (layer, k, vv) =>
        {
            var kc = _cache.Keys(layer);
            var vc = _cache.Values(layer);
            kc.view(sequences * cap, d).index_copy_(0, tDst, k.reshape(count * nmax, d).index_select(0, tSrc));
            vc.view(sequences * cap, d).index_copy_(0, tDst, vv.reshape(count * nmax, d).index_select(0, tSrc));
            var ks = tSeq is null ? kc.narrow(0, 0, count) : kc.index_select(0, tSeq);
            var vs = tSeq is null ? vc.narrow(0, 0, count) : vc.index_select(0, tSeq);
            return (ks.narrow(1, 0, kmax), vs.narrow(1, 0, kmax));
        });
        if (outRows == 0)
        {
            return;
        }

        var selected = h.reshape(count * nmax, d).index_select(0, tOut);
        var result = Model.Head(selected, cond);
        TorchTensors.CopyToHost(result, logits[..(outRows * v)]);
    }

    /// <inheritdoc />
    public void Dispose() => _cache.Dispose();

    private void CheckBatch(int batch, int length, ReadOnlySpan<int> tokens, ReadOnlySpan<int> positions, ReadOnlySpan<int> numClean, int slots)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batch, BatchSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        if (slots > _cache.Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"This mode needs {slots} cache slots but the session's cache holds {_cache.Capacity}.");
        }

        if (tokens.Length < batch * length || positions.Length < batch * length || numClean.Length < batch)
        {
            throw new ArgumentException($"Expected {batch}×{length} tokens and positions and {batch} clean counts.", nameof(tokens));
        }
    }

    private void Ensure(int windows, int rows)
    {
        if (_windows.Length < windows)
        {
            _windows = new TorchWindow[windows];
        }

        if (_ranges.Length < rows)
        {
            _ranges = new KeyRange[rows];
            _tokens = new int[rows];
            _positions = new int[rows];
        }
    }
}
