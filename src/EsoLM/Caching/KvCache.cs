using EsoLM.Backends;
using EsoLM.Modeling;
using EsoLM.Tensors;

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
    private readonly ushort[] _half;
    private readonly int _headStride;
    private readonly int _layerStride;

    /// <summary>Creates an empty cache for <paramref name="capacity"/> slots.</summary>
    /// <param name="config">The model shape.</param>
    /// <param name="capacity">Slots.</param>
    /// <param name="format">Storage of the entries: <see cref="WeightFormat.Float32"/> (exact, the default) or
    /// <see cref="WeightFormat.BFloat16"/> (half the bytes each attention pass reads; products still accumulate in fp32).</param>
    public KvCache(ModelConfig config, int capacity, WeightFormat format = WeightFormat.Float32)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        if (format is not (WeightFormat.Float32 or WeightFormat.BFloat16))
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, "A KV cache stores Float32 or BFloat16 entries.");
        }

        config.Validate();
        Layers = config.Layers;
        Heads = config.Heads;
        HeadDim = config.HeadDim;
        Capacity = capacity;
        Format = format;
        _headStride = checked(capacity * HeadDim);
        _layerStride = checked(2 * Heads * _headStride);
        int length = checked((long)_layerStride * Layers) <= Array.MaxLength
            ? _layerStride * Layers
            : throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "The cache would exceed the largest array .NET allows.");
        _data = format == WeightFormat.Float32 ? new float[length] : [];
        _half = format == WeightFormat.BFloat16 ? new ushort[length] : [];
    }

    /// <summary>How the entries are stored.</summary>
    public WeightFormat Format { get; }

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
    public long SizeInBytes => ((long)_data.Length * sizeof(float)) + ((long)_half.Length * sizeof(ushort));

    /// <summary>Forgets the contents (keeps the memory).</summary>
    public void Reset() => Length = 0;

    /// <summary>Keys of one head: [Capacity, HeadDim].</summary>
    internal Span<float> Keys(int layer, int head) => _data.AsSpan((layer * _layerStride) + (head * _headStride), _headStride);

    /// <summary>Values of one head: [Capacity, HeadDim].</summary>
    internal Span<float> Values(int layer, int head) =>
        _data.AsSpan((layer * _layerStride) + ((Heads + head) * _headStride), _headStride);

    /// <summary>
    /// bfloat16 keys of one head: [Capacity, HeadDim] (a <see cref="WeightFormat.BFloat16"/> cache), each row in the layout of
    /// <see cref="LowPrecision.Bf16RowSlot"/> (written by <see cref="Attention.ToBFloat16Rows"/>).
    /// </summary>
    internal Span<ushort> KeysBf16(int layer, int head) => _half.AsSpan((layer * _layerStride) + (head * _headStride), _headStride);

    /// <summary>bfloat16 values of one head: [Capacity, HeadDim] (a <see cref="WeightFormat.BFloat16"/> cache), rows laid out as the keys.</summary>
    internal Span<ushort> ValuesBf16(int layer, int head) =>
        _half.AsSpan((layer * _layerStride) + ((Heads + head) * _headStride), _headStride);
}
