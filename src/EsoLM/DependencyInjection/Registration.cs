using EsoLM.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Records that a strategy of <paramref name="ServiceType"/> is registered under <paramref name="Key"/> (so errors can list keys).</summary>
internal sealed record EsoLmStrategyKey(Type ServiceType, string Key);

/// <summary>Present when a model was supplied in code (<c>UseModel</c>), so <c>ModelPath</c> is not required.</summary>
internal sealed class EsoLmInCodeModel;

/// <summary>Resolves strategies from keyed services.</summary>
internal sealed class ServiceProviderStrategies(IServiceProvider services, IEnumerable<EsoLmStrategyKey> keys) : IEsoLmStrategyProvider
{
    private readonly EsoLmStrategyKey[] _keys = [.. keys.Distinct()];

    public T GetStrategy<T>(string key)
        where T : class
    {
        ArgumentNullException.ThrowIfNull(key);
        return services.GetKeyedService<T>(key) ?? throw BuiltInStrategies.UnknownKey(typeof(T), key, GetKeys<T>());
    }

    public IReadOnlyList<string> GetKeys<T>()
        where T : class => KeysOf(typeof(T));

    internal IReadOnlyList<string> KeysOf(Type type) =>
        [.. _keys.Where(k => k.ServiceType == type).Select(k => k.Key).Distinct().Order(StringComparer.Ordinal)];
}
