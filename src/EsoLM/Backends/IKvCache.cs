namespace EsoLM.Backends;

/// <summary>
/// An opaque KV cache of one sequence, allocated by <see cref="INetwork.CreateCache"/> in backend storage: keys and values
/// of every layer and head after RoPE, one slot per generation-order slot. The forward pass writes a window's K/V at the
/// slots it is told and each query reads the slots its key ranges allow, so one cache serves the full forward and
/// incremental decoding alike. Not thread-safe: one cache per sequence and session.
/// </summary>
public interface IKvCache
{
    /// <summary>Number of slots.</summary>
    int Capacity { get; }

    /// <summary>
    /// Slots holding final (clean-token) entries; bookkeeping for samplers, which write tentative entries past it and
    /// overwrite them on the next step. The forward pass does not read it.
    /// </summary>
    int Length { get; set; }

    /// <summary>Bytes of backend storage held.</summary>
    long SizeInBytes { get; }

    /// <summary>Forgets the contents (keeps the memory).</summary>
    void Reset();
}
