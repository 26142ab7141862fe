using EsoLM.Backends;
using EsoLM.Modeling;

namespace EsoLM.Sampling;

/// <summary>Which part of generation produced a token.</summary>
public enum SamplingPhase
{
    /// <summary>Given by the request (prompt prefix or infilling).</summary>
    Known = 0,

    /// <summary>Decoded in parallel by masked diffusion.</summary>
    Diffusion = 1,

    /// <summary>Decoded one at a time, left to right.</summary>
    Sequential = 2,
}
