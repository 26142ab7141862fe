using EsoLM.Modeling;
using EsoLM.Training;

namespace EsoLM.Backends;

/// <summary>Scratch storage of forward calls, owned by one thread or session (not thread-safe).</summary>
public interface IForwardWorkspace
{
    /// <summary>Bytes currently held.</summary>
    long SizeInBytes { get; }
}
