using System.CommandLine;
using EsoLM.Server;
using EsoLM.Server.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EsoLM.Cli.Commands;

/// <summary>
/// <c>esolm serve --model M [--urls …]</c>: an OpenAI-compatible HTTP server (<c>/v1/chat/completions</c>,
/// <c>/v1/completions</c>, <c>/v1/models</c>, <c>/health</c>). With <c>--cluster</c> the process is also an Orleans silo
/// on this machine and routes requests across every silo's model replica.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model file (esolm train --out).", Required = true };
        var urls = new Option<string>("--urls") { Description = "Where to listen.", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var modelId = new Option<string?>("--model-id") { Description = "The model id clients name (default: the file name without extension)." };
        var backend = BackendOption.Create();
        var queue = new Option<int>("--queue") { Description = "Requests admitted at once (running or waiting); one more gets 429.", DefaultValueFactory = _ => 64 };
        var noBatching = new Option<bool>("--no-batching") { Description = "Run every request as its own sampler batch." };
        var maxBatch = new Option<int>("--max-batch") { Description = "Largest sampler batch of concurrent requests.", DefaultValueFactory = _ => 16 };
        var cluster = new Option<bool>("--cluster") { Description = "Also run an Orleans silo on this machine and route requests across the cluster's replicas." };
        var siloPort = new Option<int>("--silo-port") { Description = "This silo's port (--cluster).", DefaultValueFactory = _ => 11111 };
        var gatewayPort = new Option<int>("--gateway-port") { Description = "This silo's gateway port (--cluster).", DefaultValueFactory = _ => 30000 };
        var primaryPort = new Option<int?>("--primary-port") { Description = "The primary silo's port (--cluster; default: this silo is the primary)." };
        var threads = BenchCommand.ThreadsOption();
        var cmd = new Command("serve", "Serve a model over an OpenAI-compatible HTTP API (optionally as a node of an Orleans cluster).")
        {
            model, urls, modelId, backend, queue, noBatching, maxBatch, cluster, siloPort, gatewayPort, primaryPort, threads,
        };
        cmd.SetAction(async (pr, cancellationToken) =>
        {
            var backendName = BackendOption.Resolve(pr.GetValue(backend), pr.GetValue(threads)).Name;

            var settings = new EsoLmServeSettings
            {
                ModelPath = pr.GetValue(model)!,
                Urls = pr.GetValue(urls)!,
                ModelId = pr.GetValue(modelId),
                Threads = pr.GetValue(threads) is > 0 and var t ? t : null,
                Backend = backendName,
                LogLevel = LogLevel.Warning,
                Server = new EsoLmServerOptions
                {
                    MaxQueueLength = pr.GetValue(queue),
                    EnableBatching = !pr.GetValue(noBatching),
                    MaxBatchSize = pr.GetValue(maxBatch),
                },
                Cluster = pr.GetValue(cluster)
                    ? new LocalClusterSettings
                    {
                        SiloPort = pr.GetValue(siloPort),
                        GatewayPort = pr.GetValue(gatewayPort),
                        PrimarySiloPort = pr.GetValue(primaryPort) ?? pr.GetValue(siloPort),
                    }
                    : null,
            };
            await using var app = EsoLmServerApp.Build(settings);
            await app.StartAsync(cancellationToken);
            Console.Error.WriteLine($"esolm serve: '{settings.EffectiveModelId}' on {string.Join(", ", app.Urls)}{(settings.Cluster is null ? string.Empty : " (cluster node)")}; Ctrl+C stops.");
            await app.WaitForShutdownAsync(cancellationToken);
            return 0;
        });
        return cmd;
    }
}
