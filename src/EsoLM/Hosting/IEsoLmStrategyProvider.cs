using EsoLM.Backends;
using EsoLM.Backends.Cpu;
using EsoLM.Caching;
using EsoLM.Masks;
using EsoLM.Schedules;
using EsoLM.Text;
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
