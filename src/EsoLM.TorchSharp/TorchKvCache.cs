using static TorchSharp.torch;

namespace EsoLM.TorchSharp;

/// <summary>
/// K/V of up to <see cref="Sequences"/> sequences for every layer, preallocated on the device ([sequences, capacity, d]
/// per layer, after RoPE, heads side by side). A forward writes each window's K/V at the generation-order slots it is
/// told and each query reads the slots its key ranges allow, exactly like the managed <c>KvCache</c>.
/// </summary>
public sealed class TorchKvCache : IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;

    /// <summary>Allocates zeroed caches on the model's device.</summary>
    public TorchKvCache(TorchDiffusionTransformer model, int sequences, int capacity)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequences, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Sequences = sequences;
        Capacity = capacity;
        Layers = model.Config.Layers;
        HiddenSize = model.Config.HiddenSize;
        _keys = new Tensor[Layers];
        _values = new Tensor[Layers];
        for (int l = 0; l < Layers; l++)
        {
            _keys[l] = zeros([sequences, capacity, HiddenSize], ScalarType.Float32, model.Device);
            _values[l] = zeros([sequences, capacity, HiddenSize], ScalarType.Float32, model.Device);
        }
    }

    /// <summary>Number of sequence slots.</summary>
    public int Sequences { get; }

    /// <summary>Slots per sequence.</summary>
    public int Capacity { get; }

    /// <summary>Number of layers.</summary>
    public int Layers { get; }

    /// <summary>Width of a K or V row (all heads).</summary>
    public int HiddenSize { get; }

    /// <summary>Bytes held on the device.</summary>
    public long SizeInBytes => 2L * Layers * Sequences * Capacity * HiddenSize * sizeof(float);

    internal Tensor Keys(int layer) => _keys[layer];

    internal Tensor Values(int layer) => _values[layer];

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in _keys)
        {
            t.Dispose();
        }

        foreach (var t in _values)
        {
            t.Dispose();
        }
    }
}
