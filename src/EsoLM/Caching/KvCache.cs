using EsoLM.Backends;
using EsoLM.Modeling;

namespace EsoLM.Caching;

/// <summary>
/// Keys and values of one sequence for every layer and head, stored after RoPE, one slot per generation-order slot
/// ([layer][K|V][head][slot][headDim]). The forward pass writes a window's K/V at the slots it is told and each query
/// reads the slots its <see cref="Tensors.KeyRange"/> allows, so one buffer serves the full forward (all slots written
/// at once) and incremental decoding (a window per step) alike. Not thread-safe: one cache per sequence and session.
/// </summary>
internal sealed class KvCache : IKvCache
{
    private readonly float[] _data;
    private readonly int _headStride;
    private readonly int _layerStride;

    /// <summary>Creates an empty cache for <paramref name="capacity"/> slots.</summary>
    public KvCache(ModelConfig config, int capacity)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        config.Validate();
        Layers = config.Layers;
        Heads = config.Heads;
        HeadDim = config.HeadDim;
        Capacity = capacity;
        _headStride = checked(capacity * HeadDim);
        _layerStride = checked(2 * Heads * _headStride);
        _data = new float[checked((long)_layerStride * Layers) <= Array.MaxLength
            ? _layerStride * Layers
            : throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "The cache would exceed the largest array .NET allows.")];
    }

    /// <summary>Number of slots.</summary>
    public int Capacity { get; }

    /// <summary>Number of layers.</summary>
    public int Layers { get; }

    /// <summary>Number of heads.</summary>
    public int Heads { get; }

    /// <summary>Head dimension.</summary>
    public int HeadDim { get; }

    /// <summary>
    /// Slots holding final (clean-token) entries; bookkeeping for samplers, which write tentative entries past it and
    /// overwrite them on the next step. The forward pass does not read it.
    /// </summary>
    public int Length { get; set; }

    /// <summary>Bytes held.</summary>
    public long SizeInBytes => (long)_data.Length * sizeof(float);

    /// <summary>Forgets the contents (keeps the memory).</summary>
    public void Reset() => Length = 0;

    /// <summary>Keys of one head: [Capacity, HeadDim].</summary>
    internal Span<float> Keys(int layer, int head) => _data.AsSpan((layer * _layerStride) + (head * _headStride), _headStride);

    /// <summary>Values of one head: [Capacity, HeadDim].</summary>
    internal Span<float> Values(int layer, int head) =>
        _data.AsSpan((layer * _layerStride) + ((Heads + head) * _headStride), _headStride);
}
