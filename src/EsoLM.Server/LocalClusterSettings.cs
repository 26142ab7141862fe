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
