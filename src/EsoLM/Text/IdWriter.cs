using System.Buffers;

namespace EsoLM.Text;

/// <summary>
/// Collects token ids either into a fixed destination (reporting overflow) or into a growable pooled buffer.
/// </summary>
internal ref struct IdWriter
{
    private Span<int> _buffer;
    private int[]? _rented;
    private readonly bool _growable;

    /// <summary>Creates a writer over a fixed destination.</summary>
    public IdWriter(Span<int> destination)
    {
        _buffer = destination;
        _growable = false;
    }

    private IdWriter(int initialCapacity)
    {
        _rented = ArrayPool<int>.Shared.Rent(Math.Max(16, initialCapacity));
        _buffer = _rented;
        _growable = true;
    }

    /// <summary>Number of ids written.</summary>
    public int Count { get; private set; }

    /// <summary>Creates a growable writer; call <see cref="ToArrayAndDispose"/> or <see cref="Dispose"/>.</summary>
    public static IdWriter CreateGrowable(int initialCapacity) => new(initialCapacity);

    /// <summary>Ids written so far.</summary>
    public readonly ReadOnlySpan<int> Written => _buffer[..Count];

    /// <summary>Appends one id; false when a fixed destination is full.</summary>
    public bool Add(int id)
    {
        if (Count == _buffer.Length && !TryGrow(1))
        {
            return false;
        }

        _buffer[Count++] = id;
        return true;
    }

    /// <summary>Appends ids; false (nothing written) when a fixed destination lacks room.</summary>
    public bool AddRange(scoped ReadOnlySpan<int> ids)
    {
        if (_buffer.Length - Count < ids.Length && !TryGrow(ids.Length))
        {
            return false;
        }

        ids.CopyTo(_buffer[Count..]);
        Count += ids.Length;
        return true;
    }

    /// <summary>Copies the ids into a new array and returns the pooled buffer.</summary>
    public int[] ToArrayAndDispose()
    {
        var result = _buffer[..Count].ToArray();
        Dispose();
        return result;
    }

    /// <summary>Returns the pooled buffer, if any.</summary>
    public void Dispose()
    {
        if (_rented is not null)
        {
            ArrayPool<int>.Shared.Return(_rented);
            _rented = null;
            _buffer = default;
        }
    }

    private bool TryGrow(int extra)
    {
        if (!_growable)
        {
            return false;
        }

        var next = ArrayPool<int>.Shared.Rent(Math.Max(_buffer.Length * 2, Count + extra));
        _buffer[..Count].CopyTo(next);
        ArrayPool<int>.Shared.Return(_rented!);
        _rented = next;
        _buffer = next;
        return true;
    }
}
