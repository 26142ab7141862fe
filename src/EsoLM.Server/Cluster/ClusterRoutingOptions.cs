namespace EsoLM.Server.Cluster;

/// <summary>How a front end spreads calls over replica grains and retries when a silo is lost.</summary>
public sealed class ClusterRoutingOptions
{
    /// <summary>Replica grain keys cycled through (activations are placed at random across silos). Default 32.</summary>
    public int ReplicaKeys { get; set; } = 32;

    /// <summary>Attempts per call, each on another replica key, before the call fails with 503. Default 3.</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Longest one attempt may take before it is abandoned and retried elsewhere. Default 2 minutes.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ReplicaKeys, 1, nameof(ReplicaKeys));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAttempts, 1, nameof(MaxAttempts));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(AttemptTimeout, TimeSpan.Zero, nameof(AttemptTimeout));
    }
}
