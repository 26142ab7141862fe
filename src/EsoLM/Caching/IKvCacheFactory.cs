using EsoLM.Backends;

namespace EsoLM.Caching;

/// <summary>
/// Creates KV caches for a model. Registered by key (<c>builder.AddKvCache&lt;T&gt;("name")</c>), selected by
/// <c>EsoLmOptions.KvCache</c> and handed to samplers through <c>GenerationSettings.KvCache</c>. Must be thread-safe.
/// </summary>
public interface IKvCacheFactory
{
    /// <summary>A short name, e.g. <c>dense</c>.</summary>
    string Name { get; }

    /// <summary>Creates an empty cache able to hold <paramref name="capacity"/> positions.</summary>
    /// <param name="network">The network (on its backend) the cache is for; the storage must come from its <see cref="INetwork.CreateCache"/>.</param>
    /// <param name="capacity">Positions the cache must hold (≥ 1).</param>
    /// <returns>A new cache, owned by the caller.</returns>
    IKvCache Create(INetwork network, int capacity);
}
