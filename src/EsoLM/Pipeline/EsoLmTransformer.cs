using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using EsoLM.Hosting;
using EsoLM.IO;
using EsoLM.Tensors;

namespace EsoLM.Pipeline;

/// <summary>
/// A trained Eso-LM as an immutable, thread-safe transformer: <see cref="Transform"/> maps prompts to completions lazily
/// (one row at a time, as the caller enumerates), <see cref="CreateSession"/> gives a stateful single-caller session for
/// streaming, and <see cref="Save(Stream)"/>/<see cref="Load(Stream, ComputeContext?)"/> persist it in a versioned format that wraps the model file.
/// </summary>
public sealed class EsoLmTransformer
{
    /// <summary>Current version of the <see cref="Save(Stream)"/> format.</summary>
    public const int FormatVersion = 1;

    private static readonly byte[] Magic = "ESOLMTR\0"u8.ToArray();
    private readonly EsoLmGenerator _generator;

    /// <summary>Wraps a model.</summary>
    /// <param name="model">The model.</param>
    /// <param name="options">Generation defaults (copied).</param>
    /// <param name="strategies">Strategy lookup; null = built-ins.</param>
    public EsoLmTransformer(EsoLmModel model, EsoLmOptions? options = null, IEsoLmStrategyProvider? strategies = null)
    {
        _generator = new EsoLmGenerator(model, options, strategies);
    }

    /// <summary>The model.</summary>
    public EsoLmModel Model => _generator.Model;

    /// <summary>The generation defaults.</summary>
    public EsoLmOptions Options => _generator.Options.Clone();

    /// <summary>The generator (thread-safe) the transformer runs.</summary>
    public EsoLmGenerator Generator => _generator;

    /// <summary>
    /// Generates a completion per request in batches (requests with the same settings share forward passes); each result
    /// equals what <see cref="Transform"/> gives for the same request and seed (<see cref="EsoLmGenerator.GenerateBatch"/>).
    /// </summary>
    /// <param name="rows">The requests.</param>
    /// <param name="cancellationToken">Checked every sampler step.</param>
    /// <returns>The results, in order.</returns>
    public IReadOnlyList<GenerationResult> GenerateBatch(IReadOnlyList<GenerationRequest> rows, CancellationToken cancellationToken = default) =>
        _generator.GenerateBatch(rows, cancellationToken);

    /// <summary>
    /// Generates a completion per request, lazily: nothing runs until the result is enumerated, and each row is read and
    /// generated when the enumerator reaches it. Safe to call from many threads at once.
    /// </summary>
    /// <param name="rows">The requests.</param>
    /// <param name="cancellationToken">Checked every sampler step.</param>
    /// <returns>The results, in order.</returns>
    public IEnumerable<GenerationResult> Transform(IEnumerable<GenerationRequest> rows, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rows);
        return TransformIterator(rows, cancellationToken);
    }

    private IEnumerable<GenerationResult> TransformIterator(IEnumerable<GenerationRequest> rows, CancellationToken cancellationToken)
    {
        foreach (var row in rows)
        {
            yield return _generator.Generate(row, cancellationToken);
        }
    }

    /// <summary>A stateful session for one caller (streaming, successive seeds).</summary>
    /// <param name="seed">The first seed; null = the options' seed or a random one.</param>
    /// <returns>The session.</returns>
    public EsoLmSession CreateSession(ulong? seed = null) => new(_generator, seed ?? _generator.Options.Seed ?? (ulong)Random.Shared.NextInt64());

    /// <summary>
    /// Writes the transformer: magic <c>ESOLMTR\0</c>, format version (int32 LE), generation options (length-prefixed
    /// UTF-8 JSON), then the model file (length-prefixed).
    /// </summary>
    /// <param name="stream">The destination.</param>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var json = JsonSerializer.SerializeToUtf8Bytes(_generator.Options);
        using var model = new MemoryStream();
        Model.Save(model);
        Span<byte> header = stackalloc byte[8];
        stream.Write(Magic);
        BinaryPrimitives.WriteInt32LittleEndian(header, FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], json.Length);
        stream.Write(header);
        stream.Write(json);
        BinaryPrimitives.WriteInt64LittleEndian(header, model.Length);
        stream.Write(header);
        model.Position = 0;
        model.CopyTo(stream);
    }

    /// <summary>Writes the transformer to a file (through a temporary file moved into place).</summary>
    /// <param name="path">The file.</param>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.Write(path, Save);
    }

    /// <summary>Reads a transformer written by <see cref="Save(Stream)"/>.</summary>
    /// <param name="stream">The source.</param>
    /// <param name="compute">Thread and SIMD settings.</param>
    /// <returns>The transformer.</returns>
    /// <exception cref="InvalidDataException">Not an EsoLM transformer, an unknown version, or truncated.</exception>
    public static EsoLmTransformer Load(Stream stream, ComputeContext? compute = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[8];
        ReadExactly(stream, header);
        if (!header.SequenceEqual(Magic))
        {
            throw new InvalidDataException("The stream is not an EsoLM transformer (missing the 'ESOLMTR' header).");
        }

        ReadExactly(stream, header);
        int version = BinaryPrimitives.ReadInt32LittleEndian(header);
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"EsoLM transformer format version {version} is not supported; this library reads version {FormatVersion}.");
        }

        int jsonLength = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        if (jsonLength is < 2 or > 1 << 20)
        {
            throw new InvalidDataException($"The options block length {jsonLength} is outside [2, {1 << 20}].");
        }

        var json = new byte[jsonLength];
        ReadExactly(stream, json);
        var options = JsonSerializer.Deserialize<EsoLmOptions>(json) ?? throw new InvalidDataException("The options block is empty.");
        ReadExactly(stream, header);
        long modelLength = BinaryPrimitives.ReadInt64LittleEndian(header);
        if (modelLength <= 0 || modelLength > int.MaxValue)
        {
            throw new InvalidDataException($"The model block length {modelLength} is invalid.");
        }

        var bytes = new byte[modelLength];
        ReadExactly(stream, bytes);
        using var model = new MemoryStream(bytes, writable: false);
        return new EsoLmTransformer(EsoLmModel.Load(model, compute), options);
    }

    /// <summary>Reads a transformer from a file.</summary>
    /// <param name="path">The file.</param>
    /// <param name="compute">Thread and SIMD settings.</param>
    /// <returns>The transformer.</returns>
    public static EsoLmTransformer Load(string path, ComputeContext? compute = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = File.OpenRead(path);
        return Load(file, compute);
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException("The EsoLM transformer stream is truncated.", ex);
        }
    }
}
