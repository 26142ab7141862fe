using EsoLM.Backends;

namespace EsoLM.Caching;

/// <summary>The built-in cache (<c>dense</c>): whatever the network's backend allocates (preallocated float32 on the CPU backend).</summary>
public sealed class DenseKvCacheFactory : IKvCacheFactory
{
    /// <summary>The shared instance.</summary>
    public static DenseKvCacheFactory Instance { get; } = new();

    /// <inheritdoc />
    public string Name => "dense";

    /// <inheritdoc />
    public IKvCache Create(INetwork network, int capacity)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        return network.CreateCache(capacity);
    }
}
