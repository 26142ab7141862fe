namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Returned by <see cref="EsoLmServiceCollectionExtensions.AddEsoLm"/>: continue configuring EsoLM (strategies, model, presets).</summary>
public interface IEsoLmBuilder
{
    /// <summary>The service collection EsoLM is registered in.</summary>
    IServiceCollection Services { get; }
}

internal sealed class EsoLmBuilder(IServiceCollection services) : IEsoLmBuilder
{
    public IServiceCollection Services { get; } = services;
}
