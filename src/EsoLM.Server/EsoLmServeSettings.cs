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
