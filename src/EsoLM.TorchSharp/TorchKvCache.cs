using EsoLM.Backends;
using static TorchSharp.torch;

namespace EsoLM.TorchSharp;

/// <summary>
/// A torch KV cache handle (<see cref="IKvCache"/>): one row of a device arena that holds the caches of every sequence of
/// the same capacity ([rows, capacity, d] per layer for K and for V, after RoPE, heads side by side). Keeping a batch's
/// caches in one tensor lets a forward write all windows' K/V with one indexed copy per layer and read them without
/// gathering. Dispose it to return its row to the arena.
/// </summary>
public sealed class TorchKvCache : IKvCache, IDisposable
{
    private bool _disposed;

    internal TorchKvCache(TorchNetwork network, TorchKvArena arena, int slot)
    {
        Network = network;
        Arena = arena;
        Slot = slot;
    }

    /// <inheritdoc />
    public int Capacity => Arena.Capacity;

    /// <inheritdoc />
    public int Length { get; set; }

    /// <inheritdoc />
    public long SizeInBytes => Arena.BytesPerRow;

    internal TorchNetwork Network { get; }

    internal TorchKvArena Arena { get; }

    internal int Slot { get; }

    /// <inheritdoc />
    public void Reset() => Length = 0;

    /// <inheritdoc />
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Arena.Release(Slot);
        }
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}

/// <summary>Device storage for the KV caches of one capacity; grows by doubling (copying the rows in use).</summary>
internal sealed class TorchKvArena : IDisposable
{
    private readonly TorchDiffusionTransformer _model;
    // Lowest free slot first: a batch that reuses released caches then gets consecutive slots in sequence order, which a
    // forward reads as one narrow view of the arena instead of gathering every layer's whole cache (issue 11).
    private readonly SortedSet<int> _free = [];
    private Tensor[] _keys;
    private Tensor[] _values;
    private int _used;

    public TorchKvArena(TorchDiffusionTransformer model, int capacity)
    {
        _model = model;
        Capacity = capacity;
        _keys = [];
        _values = [];
        Allocate(1);
    }

    public int Capacity { get; }

    /// <summary>Held by forwards and by growth, so a forward never sees the storage swapped under it.</summary>
    public Lock Sync { get; } = new();

    public int Slots { get; private set; }

    public long BytesPerRow => 2L * _model.Config.Layers * Capacity * _model.Config.HiddenSize * sizeof(float);

    public Tensor Keys(int layer) => _keys[layer];

    public Tensor Values(int layer) => _values[layer];

    public TorchKvCache Allocate(TorchNetwork network)
    {
        lock (Sync)
        {
            if (_free.Count > 0)
            {
                int slot = _free.Min;
                _free.Remove(slot);
                return new TorchKvCache(network, this, slot);
            }

            if (_used == Slots)
            {
                Allocate(Slots * 2);
            }

            return new TorchKvCache(network, this, _used++);
        }
    }

    public void Release(int slot)
    {
        lock (Sync)
        {
            _free.Add(slot);
        }
    }

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values))
        {
            t.Dispose();
        }
    }

    private void Allocate(int slots)
    {
        var cfg = _model.Config;
        var keys = new Tensor[cfg.Layers];
        var values = new Tensor[cfg.Layers];
        using (no_grad())
        {
            for (int l = 0; l < cfg.Layers; l++)
            {
                keys[l] = zeros([slots, Capacity, cfg.HiddenSize], ScalarType.Float32, _model.Device);
                values[l] = zeros([slots, Capacity, cfg.HiddenSize], ScalarType.Float32, _model.Device);
                if (Slots > 0)
                {
                    keys[l].narrow(0, 0, Slots).copy_(_keys[l]);
                    values[l].narrow(0, 0, Slots).copy_(_values[l]);
                    _keys[l].Dispose();
                    _values[l].Dispose();
                }
            }
        }

        _keys = keys;
        _values = values;
        Slots = slots;
    }
}
