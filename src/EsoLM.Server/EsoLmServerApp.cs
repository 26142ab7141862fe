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
