using System.Globalization;
using EsoLM.Modeling;

namespace EsoLM.Diagnostics;

/// <summary>
/// Up-front estimates of the memory a model, a training batch or a sampling batch needs, compared with what this
/// process may still allocate (<see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/> honours a container limit and
/// <c>DOTNET_GCHeapHardLimit</c>). The estimates count the large float buffers (weights, optimizer state, activations,
/// logits, KV caches); they are meant to refuse requests that cannot fit, not to predict the peak to the byte.
/// </summary>
internal static class MemoryBudget
{
    /// <summary>Bytes this process can still allocate on the managed heap (approximately).</summary>
    public static long Available()
    {
        var info = GC.GetGCMemoryInfo();
        long total = info.TotalAvailableMemoryBytes;
        long used = GC.GetTotalMemory(forceFullCollection: false);
        return Math.Max(0, total - used);
    }

    /// <summary>Bytes of a model's weights (fp32).</summary>
    /// <param name="config">The model shape.</param>
    /// <returns>The estimate.</returns>
    public static long ModelBytes(ModelConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.ParameterCount() * sizeof(float);
    }

    /// <summary>
    /// Bytes of a training run: weights, gradients, two AdamW moments and the EMA copy, plus the activations kept for
    /// the backward pass of one batch (rows of 2L tokens: diffusion and sequential halves) and the logits with their gradient.
    /// </summary>
    /// <param name="config">The model shape.</param>
    /// <param name="batch">Rows per batch.</param>
    /// <param name="length">Row length L.</param>
    /// <returns>The weight part and the activation part.</returns>
    public static (long Weights, long Activations, long Vocabulary) TrainingBytes(ModelConfig config, int batch, int length)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        double tokens = 2.0 * batch * length;
        double d = config.HiddenSize, m = (double)config.MlpRatio * config.HiddenSize, v = config.VocabSize;
        double weights = 5.0 * sizeof(float) * config.ParameterCount();
        double perTokenLayers = config.Layers * ((16 * d) + (2 * m));
        double perTokenVocab = 3 * v;
        double activations = tokens * sizeof(float) * (perTokenLayers + perTokenVocab);
        double vocabulary = (5.0 * sizeof(float) * 2 * v * d) + (tokens * sizeof(float) * perTokenVocab);
        return (Clamp(weights), Clamp(activations), Clamp(vocabulary));
    }

    /// <summary>Bytes of sampling <paramref name="count"/> sequences of <paramref name="length"/> tokens at once (KV caches, activations, logits).</summary>
    /// <param name="config">The model shape.</param>
    /// <param name="count">Sequences in the batch.</param>
    /// <param name="length">Sequence length.</param>
    /// <returns>The estimate.</returns>
    public static long SamplingBytes(ModelConfig config, int count, int length)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        double d = config.HiddenSize, m = (double)config.MlpRatio * config.HiddenSize;
        double perToken = (2 * config.Layers * d) + (8 * d) + m + config.VocabSize;
        return Clamp((double)count * length * sizeof(float) * perToken);
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming <paramref name="setting"/> when <paramref name="bytes"/> exceed what is available.</summary>
    /// <param name="bytes">The estimate.</param>
    /// <param name="setting">The setting to lower (named in the message and as the parameter).</param>
    /// <param name="value">Its value.</param>
    /// <param name="what">What needs the memory, e.g. "sampling 4096 sequences of 128 tokens".</param>
    public static void Require(long bytes, string setting, object value, string what)
    {
        ArgumentException.ThrowIfNullOrEmpty(setting);
        long available = Available();
        if (bytes > available)
        {
            throw new ArgumentOutOfRangeException(setting, value, string.Create(CultureInfo.InvariantCulture,
                $"{what} needs about {Format(bytes)}, more than this process can allocate (about {Format(available)}): lower {setting} (now {value})."));
        }
    }

    /// <summary>A byte count as MiB or GiB.</summary>
    /// <param name="bytes">Bytes.</param>
    /// <returns>The text.</returns>
    public static string Format(long bytes) => bytes >= 1L << 30
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F1} GiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F0} MiB");

    private static long Clamp(double bytes) => bytes >= long.MaxValue ? long.MaxValue : (long)bytes;
}
