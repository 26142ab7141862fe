using EsoLM.Backends;
using EsoLM.Backends.Cpu;
using EsoLM.IO;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Text;
using EsoLM.Training;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Hosting;

/// <summary>
/// A network and its tokenizer: the immutable, shareable unit generation runs on. The weights are read-only and
/// thread-safe; any number of samplers and sessions may share one instance.
/// </summary>
public sealed class EsoLmModel
{
    /// <summary>Wraps a network and tokenizer.</summary>
    /// <param name="transformer">The network, on any backend (e.g. <c>CpuBackend.Default.Load(parameters)</c>).</param>
    /// <param name="tokenizer">The tokenizer; its ids must be the network's (all but the mask id, at least).</param>
    /// <param name="metadata">
    /// Extra metadata (saved with the model). A <see cref="TrainingDescription.MetadataKey"/> entry is read into
    /// <see cref="Training"/> when <paramref name="training"/> is null, and removed from <see cref="Metadata"/>.
    /// </param>
    /// <param name="training">How the network was trained (variant, α0, objective, tokenizer), when known.</param>
    public EsoLmModel(INetwork transformer, Tokenizer tokenizer, IReadOnlyDictionary<string, string>? metadata = null,
        TrainingDescription? training = null)
    {
        ArgumentNullException.ThrowIfNull(transformer);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ModelFile.CheckTokenizerCoversModel(TokenizerVocabulary.Of(tokenizer).Size, transformer.Config);

        Transformer = transformer;
        Tokenizer = tokenizer;
        metadata ??= new Dictionary<string, string>();
        Training = training ?? TrainingDescription.FromMetadata(metadata);
        Metadata = metadata.ContainsKey(TrainingDescription.MetadataKey)
            ? metadata.Where(kv => kv.Key != TrainingDescription.MetadataKey).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal)
            : metadata;
    }

    /// <summary>The network on its backend (shared, read-only).</summary>
    public INetwork Transformer { get; }

    /// <summary>The tokenizer.</summary>
    public Tokenizer Tokenizer { get; }

    /// <summary>The model shape.</summary>
    public ModelConfig Config => Transformer.Config;

    /// <summary>Extra metadata (the training description and the file format's own entries excluded).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>
    /// How the network was trained (read from the model file), or null when unknown (a reference import, a model built
    /// in code). The generator samples with its masks and α0 by default and refuses other masks unless told to allow them.
    /// </summary>
    public TrainingDescription? Training { get; }

    /// <summary>The end-of-sequence id generation stops at (the tokenizer's end-of-text), or null.</summary>
    public int? EosTokenId => TokenizerVocabulary.Of(Tokenizer).EndOfTextId is int id && id < Config.VocabSize && id != Config.MaskTokenId ? id : null;

    /// <summary>Loads a model file (<see cref="ModelFile"/>) that has a tokenizer description.</summary>
    /// <param name="path">The file.</param>
    /// <param name="compute">Thread and SIMD settings of the CPU backend; default all cores.</param>
    /// <param name="strategies">Resolves a custom training schedule or mask policy by name (see <see cref="TrainingDescription.Objective"/>); null = built-ins.</param>
    /// <returns>The model, with <see cref="Training"/> read from the file's <c>esolm.objective</c> entry.</returns>
    public static EsoLmModel Load(string path, ComputeContext? compute = null, IEsoLmStrategyProvider? strategies = null) =>
        Load(path, compute is null ? CpuBackend.Default : new CpuBackend(compute), strategies);

    /// <summary>Loads a model file (<see cref="ModelFile"/>) that has a tokenizer description onto a compute backend.</summary>
    /// <param name="path">The file.</param>
    /// <param name="backend">The backend the weights are loaded on.</param>
    /// <param name="strategies">Resolves a custom training schedule or mask policy by name; null = built-ins.</param>
    /// <returns>The model, with <see cref="Training"/> read from the file's <c>esolm.objective</c> entry.</returns>
    public static EsoLmModel Load(string path, IComputeBackend backend, IEsoLmStrategyProvider? strategies = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        var contents = ModelFile.Load(path);
        var user = contents.Metadata.Where(kv => !ModelFile.IsReserved(kv.Key) && kv.Key != TrainingDescription.MetadataKey)
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        var training = TrainingDescription.FromMetadata(contents.Metadata, contents.Tokenizer, strategies);
        return new EsoLmModel(backend.Load(contents.Parameters), contents.CreateTokenizer(), user, training);
    }

    /// <summary>Reads a model file from a stream (the same bytes <see cref="Save(Stream)"/> writes).</summary>
    /// <param name="stream">The stream, read to its end.</param>
    /// <param name="compute">Thread and SIMD settings.</param>
    /// <returns>The model.</returns>
    public static EsoLmModel Load(Stream stream, ComputeContext? compute = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var temp = Path.Combine(Path.GetTempPath(), $"esolm-{Guid.NewGuid():N}.safetensors");
        try
        {
            using (var file = File.Create(temp))
            {
                stream.CopyTo(file);
            }

            return Load(temp, compute);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>Saves the model (weights, config, tokenizer, training description, metadata) as one model file, atomically.</summary>
    /// <param name="path">Destination.</param>
    public void Save(string path)
    {
        var metadata = Metadata;
        if (Training is not null)
        {
            metadata = new Dictionary<string, string>(Metadata, StringComparer.Ordinal) { [TrainingDescription.MetadataKey] = Training.Json };
        }

        ModelFile.Save(path, Transformer.CopyParametersToHost(), Tokenizer.Describe(), metadata);
    }

    /// <summary>Writes the model file bytes to a stream.</summary>
    /// <param name="stream">Destination (written from its current position).</param>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var temp = Path.Combine(Path.GetTempPath(), $"esolm-{Guid.NewGuid():N}.safetensors");
        try
        {
            Save(temp);
            using var file = File.OpenRead(temp);
            file.CopyTo(stream);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
