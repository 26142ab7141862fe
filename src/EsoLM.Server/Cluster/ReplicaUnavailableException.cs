using System.Runtime.CompilerServices;
using EsoLM.Server.Serving;

namespace EsoLM.Server.Cluster;

/// <summary>No replica of the cluster could answer a call.</summary>
public sealed class ReplicaUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ReplicaUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public ReplicaUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the last failure.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The last failure.</param>
    public ReplicaUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
