using EsoLM.Backends;
using EsoLM.Modeling;

using EsoLM.Sampling;

namespace EsoLM.Diagnostics;

/// <summary>The outcome of <see cref="CacheSelfCheck.Run"/>.</summary>
/// <param name="MaxAbsDiff">Largest |cached − full| logit over every step, row and vocabulary entry.</param>
/// <param name="Steps">Steps compared.</param>
/// <param name="LogitsCompared">Values compared.</param>
/// <param name="Tolerance">The tolerance applied.</param>
public sealed record CacheCheckResult(double MaxAbsDiff, int Steps, long LogitsCompared, double Tolerance)
{
    /// <summary>Whether the cache agrees with full forwards within <see cref="Tolerance"/>.</summary>
    public bool Passed => Steps > 0 && MaxAbsDiff <= Tolerance;
}
