using EsoLM.Modeling;

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
    /// <param name="config">The model shape.</param>
    /// <param name="capacity">Positions the cache must hold (≥ 1).</param>
    /// <returns>A new cache, owned by the caller.</returns>
    KvCache Create(ModelConfig config, int capacity);
}

/// <summary>The built-in dense, preallocated float32 cache (<c>dense</c>).</summary>
public sealed class DenseKvCacheFactory : IKvCacheFactory
{
    /// <summary>The shared instance.</summary>
    public static DenseKvCacheFactory Instance { get; } = new();

    /// <inheritdoc />
    public string Name => "dense";

    /// <inheritdoc />
    public KvCache Create(ModelConfig config, int capacity)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        return new KvCache(config, capacity);
    }
}
