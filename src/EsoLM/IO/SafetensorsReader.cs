using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Numerics.Tensors;

namespace EsoLM.IO;

/// <summary>
/// Reads tensors from a safetensors file. <see cref="Open(string)"/> validates the whole header up front
/// (JSON, dtypes, shapes, byte ranges against the file size, overlaps), so a malformed or truncated file fails
/// there with a <see cref="SafetensorsFormatException"/>; later reads convert F32, F16 and BF16 to
/// <see cref="float"/>. Reads are serialized internally, so one reader may be shared between threads.
/// </summary>
internal sealed class SafetensorsReader : IDisposable
{
    private const int ChunkBytes = 1 << 16;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly long _dataStart;
    private readonly string? _file;
    private readonly Dictionary<string, TensorInfo> _byName;
    private readonly Lock _gate = new();
    private bool _disposed;

    private SafetensorsReader(Stream stream, bool leaveOpen, long dataStart, string? file, List<TensorInfo> tensors, Dictionary<string, string> metadata)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
        _dataStart = dataStart;
        _file = file;
        Tensors = tensors.AsReadOnly();
        Metadata = metadata.AsReadOnly();
        _byName = new Dictionary<string, TensorInfo>(tensors.Count, StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            _byName.Add(t.Name, t);
        }
    }

    /// <summary>The <c>__metadata__</c> string map; empty if the file has none.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Every tensor, in the order the header lists them.</summary>
    public IReadOnlyList<TensorInfo> Tensors { get; }

    /// <summary>Opens and validates the safetensors file at <paramref name="path"/>.</summary>
    /// <param name="path">Path of the file.</param>
    /// <returns>A reader that owns the open file.</returns>
    /// <exception cref="SafetensorsFormatException">The file is malformed or truncated.</exception>
    public static SafetensorsReader Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.RandomAccess);
        try
        {
            return Create(stream, leaveOpen: false, path);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens and validates safetensors data in a seekable, readable <paramref name="stream"/>. The data starts at the
    /// stream's current position.
    /// </summary>
    /// <param name="stream">A readable, seekable stream positioned at the 8-byte header length.</param>
    /// <param name="leaveOpen">Whether disposing the reader leaves <paramref name="stream"/> open.</param>
    /// <returns>A reader over the stream.</returns>
    /// <exception cref="SafetensorsFormatException">The data is malformed or truncated.</exception>
    public static SafetensorsReader Open(Stream stream, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead || !stream.CanSeek)
        {
            throw new ArgumentException("The stream must be readable and seekable.", nameof(stream));
        }

        return Create(stream, leaveOpen, (stream as FileStream)?.Name);
    }

    /// <summary>Whether the file holds a tensor named <paramref name="name"/>.</summary>
    /// <param name="name">The tensor's key.</param>
    /// <returns><see langword="true"/> if present.</returns>
    public bool Contains(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _byName.ContainsKey(name);
    }

    /// <summary>Returns the header entry of the tensor named <paramref name="name"/>.</summary>
    /// <param name="name">The tensor's key.</param>
    /// <returns>Its type, shape and byte range.</returns>
    /// <exception cref="KeyNotFoundException">No tensor has that name; the message lists similar names.</exception>
    public TensorInfo GetInfo(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_byName.TryGetValue(name, out var info))
        {
            return info;
        }

        var similar = Tensors
            .Select(t => t.Name)
            .OrderByDescending(n => CommonPrefixLength(n, name))
            .ThenBy(n => n, StringComparer.Ordinal)
            .Take(5)
            .ToList();
        var where = _file is null ? "the safetensors data" : $"'{_file}'";
        var hint = similar.Count == 0 ? "it holds no tensors" : $"it holds {Tensors.Count} tensors, e.g. {string.Join(", ", similar.Select(n => $"'{n}'"))}";
        throw new KeyNotFoundException($"No tensor named '{name}' in {where}; {hint}.");
    }

    /// <summary>Reads the tensor named <paramref name="name"/> into a new array, converting to <see cref="float"/>.</summary>
    /// <param name="name">The tensor's key.</param>
    /// <returns>Its elements in row-major order.</returns>
    public float[] ReadSingle(string name)
    {
        var info = GetInfo(name);
        if (info.ElementCount > Array.MaxLength)
        {
            throw new NotSupportedException($"Tensor '{name}' has {info.ElementCount} elements, more than an array can hold ({Array.MaxLength}).");
        }

        var result = new float[info.ElementCount];
        ReadSingle(info, result);
        return result;
    }

    /// <summary>
    /// Reads the tensor named <paramref name="name"/> into <paramref name="destination"/>, converting to
    /// <see cref="float"/>.
    /// </summary>
    /// <param name="name">The tensor's key.</param>
    /// <param name="destination">Receives the elements in row-major order; its length must equal the element count.</param>
    /// <exception cref="ArgumentException">The destination length differs from the tensor's element count.</exception>
    public void ReadSingle(string name, Span<float> destination)
    {
        var info = GetInfo(name);
        if (destination.Length != info.ElementCount)
        {
            throw new ArgumentException(
                $"Destination has {destination.Length} elements but tensor '{name}' {info.ShapeText} has {info.ElementCount}.",
                nameof(destination));
        }

        ReadSingle(info, destination);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (!_leaveOpen)
            {
                _stream.Dispose();
            }
        }
    }

    private static SafetensorsReader Create(Stream stream, bool leaveOpen, string? file)
    {
        var start = stream.Position;
        var length = stream.Length - start;
        if (length < 8)
        {
            throw SafetensorsHeader.Error(file, null, $"the file is {length} bytes, shorter than the 8-byte header length prefix.");
        }

        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength == 0)
        {
            throw SafetensorsHeader.Error(file, null, "the header length is 0; expected at least the 2 bytes of '{}'.");
        }

        if (headerLength > (ulong)SafetensorsHeader.MaxHeaderLength)
        {
            throw SafetensorsHeader.Error(file, null, $"the header length is {headerLength} bytes, above the limit of {SafetensorsHeader.MaxHeaderLength} bytes.");
        }

        if ((long)headerLength > length - 8)
        {
            throw SafetensorsHeader.Error(file, null, $"the header length is {headerLength} bytes, past the end of the file: only {length - 8} bytes follow the 8-byte prefix.");
        }

        var header = new byte[headerLength];
        stream.ReadExactly(header);
        var dataStart = start + 8 + (long)headerLength;
        var (tensors, metadata) = SafetensorsHeader.Parse(header, stream.Length - dataStart, file);
        return new SafetensorsReader(stream, leaveOpen, dataStart, file, tensors, metadata);
    }

    private static int CommonPrefixLength(string a, string b)
    {
        var n = Math.Min(a.Length, b.Length);
        var i = 0;
        while (i < n && a[i] == b[i])
        {
            i++;
        }

        return i;
    }

    private void ReadSingle(TensorInfo info, Span<float> destination)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            try
            {
                _stream.Position = _dataStart + info.Begin;
                switch (info.DataType)
                {
                    case TensorDataType.F32:
                        ReadF32(destination);
                        break;
                    case TensorDataType.F16:
                    case TensorDataType.BF16:
                        ReadHalfWidth(info.DataType, destination);
                        break;
                    default:
                        throw new InvalidOperationException($"Unhandled data type {info.DataType}.");
                }
            }
            catch (EndOfStreamException ex)
            {
                throw SafetensorsHeader.Error(_file, info.Name, "the file ended while reading the tensor's data (was it truncated after opening?).", ex);
            }
        }
    }

    private void ReadF32(Span<float> destination)
    {
        // Read straight into the destination: no intermediate buffer.
        var bytes = MemoryMarshal.AsBytes(destination);
        _stream.ReadExactly(bytes);
        if (!BitConverter.IsLittleEndian)
        {
            var ints = MemoryMarshal.Cast<float, int>(destination);
            BinaryPrimitives.ReverseEndianness(ints, ints);
        }
    }

    private void ReadHalfWidth(TensorDataType type, Span<float> destination)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            var done = 0;
            while (done < destination.Length)
            {
                var n = Math.Min(destination.Length - done, ChunkBytes / 2);
                var chunk = buffer.AsSpan(0, n * 2);
                _stream.ReadExactly(chunk);
                var bits = MemoryMarshal.Cast<byte, ushort>(chunk);
                if (!BitConverter.IsLittleEndian)
                {
                    BinaryPrimitives.ReverseEndianness(bits, bits);
                }

                var target = destination.Slice(done, n);
                if (type == TensorDataType.F16)
                {
                    TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<ushort, Half>(bits), target);
                }
                else
                {
                    for (var i = 0; i < n; i++)
                    {
                        target[i] = BitConverter.Int32BitsToSingle(bits[i] << 16);
                    }
                }

                done += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
