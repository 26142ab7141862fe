using System.Net;
using EsoLM.Server.Cluster;
using EsoLM.Server.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace EsoLM.Server;

/// <summary>Settings of one <c>esolm serve</c> process.</summary>
public sealed class EsoLmServeSettings
{
    /// <summary>The model file.</summary>
    public required string ModelPath { get; init; }

    /// <summary>Where to listen, e.g. <c>http://127.0.0.1:8080</c> (<c>:0</c> picks a free port).</summary>
    public string Urls { get; init; } = "http://127.0.0.1:8080";

    /// <summary>The model id clients name; null = the model file's name without extension.</summary>
    public string? ModelId { get; init; }

    /// <summary>Kernel threads; null = all cores.</summary>
    public int? Threads { get; init; }

    /// <summary>Key of the compute backend the model is loaded on (<c>EsoLmOptions.Backend</c>); default <c>cpu</c>.</summary>
    public string Backend { get; init; } = "cpu";

    /// <summary>Server settings (queue, batching).</summary>
    public EsoLmServerOptions Server { get; init; } = new();

    /// <summary>Join or form an Orleans cluster on this machine (localhost clustering); null = serve alone.</summary>
    public LocalClusterSettings? Cluster { get; init; }

    /// <summary>Log level of the host (default warnings).</summary>
    public LogLevel LogLevel { get; init; } = LogLevel.Warning;

    /// <summary>The model id actually served.</summary>
    public string EffectiveModelId => ModelId ?? Path.GetFileNameWithoutExtension(ModelPath);
}

/// <summary>
/// An Orleans silo on this machine with localhost clustering: the first silo (the primary) listens on
/// <see cref="SiloPort"/>; others name it in <see cref="PrimarySiloPort"/>.
/// </summary>
public sealed class LocalClusterSettings
{
    /// <summary>This silo's port.</summary>
    public int SiloPort { get; init; } = 11111;

    /// <summary>This silo's client gateway port.</summary>
    public int GatewayPort { get; init; } = 30000;

    /// <summary>The primary silo's port (itself for the first silo).</summary>
    public int PrimarySiloPort { get; init; } = 11111;

    /// <summary>Routing settings of this silo's HTTP front end.</summary>
    public ClusterRoutingOptions Routing { get; init; } = new();
}

/// <summary>Builds the web application that <c>esolm serve</c> runs; tests build the same one.</summary>
public static class EsoLmServerApp
{
    /// <summary>Builds the application: the model, the chat client, the server services and endpoints, and the silo when clustered.</summary>
    /// <param name="settings">The settings.</param>
    /// <returns>The application (not started).</returns>
    public static WebApplication Build(EsoLmServeSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentException.ThrowIfNullOrEmpty(settings.ModelPath, nameof(settings));
        if (!File.Exists(settings.ModelPath))
        {
            throw new FileNotFoundException(Directory.Exists(settings.ModelPath)
                ? $"The model path '{settings.ModelPath}' is a directory, not a model file."
                : $"The model file '{settings.ModelPath}' does not exist.", settings.ModelPath);
        }

        settings.Server.Validate();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(settings.Urls);
        builder.Logging.SetMinimumLevel(settings.LogLevel);
        builder.Services.AddEsoLm(o =>
        {
            o.ModelPath = settings.ModelPath;
            o.Threads = settings.Threads;
            o.Backend = settings.Backend;
        }).AddChatClient(c => c.ModelId = settings.EffectiveModelId);
        builder.Services.AddEsoLmServer(o =>
        {
            o.MaxQueueLength = settings.Server.MaxQueueLength;
            o.EnableBatching = settings.Server.EnableBatching;
            o.MaxBatchSize = settings.Server.MaxBatchSize;
            o.BatchWindow = settings.Server.BatchWindow;
            o.MaxConcurrentBatches = settings.Server.MaxConcurrentBatches;
        });
        if (settings.Cluster is { } cluster)
        {
            builder.UseOrleans(silo =>
            {
                silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort, new IPEndPoint(IPAddress.Loopback, cluster.PrimarySiloPort));
                silo.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = "esolm";
                    o.ServiceId = "esolm";
                });
            });
            builder.Services.AddEsoLmClusterFrontEnd(settings.EffectiveModelId, r =>
            {
                r.ReplicaKeys = cluster.Routing.ReplicaKeys;
                r.MaxAttempts = cluster.Routing.MaxAttempts;
                r.AttemptTimeout = cluster.Routing.AttemptTimeout;
            });
        }

        var app = builder.Build();
        app.MapEsoLmOpenAi();
        return app;
    }
}
