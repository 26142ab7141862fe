using System.Diagnostics.Metrics;
using EsoLM.Extensions.AI;
using EsoLM.Server.Cluster;
using EsoLM.Server.Serving;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the OpenAI-compatible server's services.</summary>
public static class EsoLmServerServiceCollectionExtensions
{
    /// <summary>
    /// Registers the server over the model in this process: <see cref="EsoLmServerOptions"/>, <see cref="ServerMetrics"/>,
    /// <see cref="LocalCompletionBackend"/> and <see cref="ICompletionBackend"/> (TryAdd). It needs an
    /// <see cref="EsoLmChatClient"/>: <c>services.AddEsoLm(…).AddChatClient()</c>. Then map the endpoints with
    /// <c>app.MapEsoLmOpenAi()</c>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Server settings.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddEsoLmServer(this IServiceCollection services, Action<EsoLmServerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new EsoLmServerOptions();
        configure?.Invoke(options);
        options.Validate();
        services.TryAddSingleton(options);
        services.TryAddSingleton(sp => new ServerMetrics(sp.GetService<IMeterFactory>()));
        services.TryAddSingleton(sp => new LocalCompletionBackend(
            sp.GetRequiredService<EsoLmChatClient>(), sp.GetRequiredService<EsoLmServerOptions>(), sp.GetRequiredService<ServerMetrics>()));
        services.TryAddSingleton<ICompletionBackend>(sp => sp.GetRequiredService<LocalCompletionBackend>());
        return services;
    }

    /// <summary>
    /// Makes this process's HTTP front end route requests to <see cref="IEsoLmReplicaGrain"/> replicas across an Orleans
    /// cluster (replacing the local backend as <see cref="ICompletionBackend"/>). Works in a silo (which also holds a
    /// replica when it registered <see cref="AddEsoLmServer"/>) or in a cluster client.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="modelId">The model id the replicas serve.</param>
    /// <param name="configure">Routing settings.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddEsoLmClusterFrontEnd(this IServiceCollection services, string modelId, Action<ClusterRoutingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrEmpty(modelId);
        var routing = new ClusterRoutingOptions();
        configure?.Invoke(routing);
        routing.Validate();
        services.TryAddSingleton(new EsoLmServerOptions());
        services.TryAddSingleton(sp => new ServerMetrics(sp.GetService<IMeterFactory>()));
        services.Replace(ServiceDescriptor.Singleton<ICompletionBackend>(sp =>
            new ClusterCompletionBackend(sp.GetRequiredService<IGrainFactory>(), modelId, routing)));
        return services;
    }
}
