using EsoLM.Backends;
using EsoLM.Backends.Cpu;
using EsoLM.Caching;
using EsoLM.Masks;
using EsoLM.Schedules;
using EsoLM.Text;
using EsoLM.Data;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Hosting;

/// <summary>
/// Resolves strategies (schedules, mask policies, samplers, KV caches, tokenizers) by key. With DI the provider reads the
/// keyed services registered by <c>AddEsoLm()</c> and its builder; without DI use <see cref="BuiltInStrategies.Instance"/>.
/// </summary>
public interface IEsoLmStrategyProvider
{
    /// <summary>The strategy of type <typeparamref name="T"/> registered under <paramref name="key"/>.</summary>
    /// <typeparam name="T">
    /// <see cref="ISamplerFactory"/>, <see cref="INoiseSchedule"/>, <see cref="IAttentionMaskPolicy"/>, <see cref="IKvCacheFactory"/>,
    /// <see cref="Tokenizer"/> or <see cref="IComputeBackend"/>.
    /// </typeparam>
    /// <param name="key">The key.</param>
    /// <returns>The strategy.</returns>
    /// <exception cref="KeyNotFoundException">No strategy of that kind has the key; the message lists the registered keys.</exception>
    T GetStrategy<T>(string key)
        where T : class;

    /// <summary>The registered keys for strategies of type <typeparamref name="T"/>, sorted.</summary>
    /// <typeparam name="T">The strategy type.</typeparam>
    /// <returns>The keys.</returns>
    IReadOnlyList<string> GetKeys<T>()
        where T : class;
}

/// <summary>The built-in strategies, for use without dependency injection.</summary>
public sealed class BuiltInStrategies : IEsoLmStrategyProvider
{
    private static readonly Lazy<Tokenizer> BuiltInTokenizer =
        new(() => CharTokenizer.FromCorpus(new string([.. BuiltInLanguage.Alphabet])));

    private readonly Dictionary<(Type, string), Func<object>> _entries = new()
    {
        [(typeof(ISamplerFactory), "esolm")] = () => new EsoLmSamplerFactory(),
        [(typeof(ISamplerFactory), "mdlm")] = () => new MdlmSamplerFactory(),
        [(typeof(ISamplerFactory), "bd3")] = () => new BlockDiffusionSamplerFactory(),
        [(typeof(ISamplerFactory), "ar")] = () => new AutoregressiveSamplerFactory(),
        [(typeof(INoiseSchedule), "log-linear")] = () => LogLinearSchedule.Default,
        [(typeof(INoiseSchedule), "cosine")] = () => new CosineSchedule(),
        [(typeof(IAttentionMaskPolicy), "esolm-a")] = () => EsoLmMaskPolicy.A,
        [(typeof(IAttentionMaskPolicy), "esolm-b")] = () => EsoLmMaskPolicy.B,
        [(typeof(IAttentionMaskPolicy), "mdlm")] = () => EsoLmMaskPolicy.Mdlm,
        [(typeof(IKvCacheFactory), "dense")] = () => DenseKvCacheFactory.Instance,
        [(typeof(IComputeBackend), CpuBackend.BackendName)] = () => CpuBackend.Default,
        [(typeof(Tokenizer), "byte")] = () => new ByteTokenizer(),
        [(typeof(Tokenizer), "builtin")] = () => BuiltInTokenizer.Value,
    };

    /// <summary>The shared instance.</summary>
    public static BuiltInStrategies Instance { get; } = new();

    /// <summary>The tokenizer of the built-in synthetic language: characters of its alphabet (key <c>builtin</c>).</summary>
    public static Tokenizer BuiltInLanguageTokenizer => BuiltInTokenizer.Value;

    /// <summary>The built-in keys and factories (used by <c>AddEsoLm()</c> to register them).</summary>
    internal IEnumerable<(Type ServiceType, string Key, Func<object> Create)> Entries =>
        _entries.Select(e => (e.Key.Item1, e.Key.Item2, e.Value));

    /// <inheritdoc />
    public T GetStrategy<T>(string key)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(key);
        return _entries.TryGetValue((typeof(T), key), out var create)
            ? (T)create()
            : throw UnknownKey(typeof(T), key, GetKeys<T>());
    }

    /// <inheritdoc />
    public IReadOnlyList<string> GetKeys<T>()
        where T : class => [.. _entries.Keys.Where(k => k.Item1 == typeof(T)).Select(k => k.Item2).Order(StringComparer.Ordinal)];

    internal static KeyNotFoundException UnknownKey(Type type, string key, IReadOnlyList<string> keys) =>
        new($"No {KindName(type)} is registered under the key '{key}'. Registered keys: {(keys.Count == 0 ? "(none)" : string.Join(", ", keys.Select(k => $"'{k}'")))}.");

    internal static string KindName(Type type) =>
        type == typeof(ISamplerFactory) ? "sampler"
        : type == typeof(INoiseSchedule) ? "noise schedule"
        : type == typeof(IAttentionMaskPolicy) ? "mask policy"
        : type == typeof(IKvCacheFactory) ? "KV cache"
        : type == typeof(Tokenizer) ? "tokenizer"
        : type == typeof(IComputeBackend) ? "compute backend"
        : type.Name;
}
