#pragma warning disable CA2208 // Options name the offending property (not a method parameter) in their exceptions.
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Randomness;
using EsoLM.Schedules;

namespace EsoLM.Sampling;

/// <summary>What <see cref="AutoregressiveSampler"/> computes.</summary>
public enum AutoregressiveMode
{
    /// <summary>
    /// Exact left-to-right generation with this network: Eso-LM with α_eval = 0 (every step feeds the previous token,
    /// now clean, plus one mask; 2 tokens per forward). The network has no shift-by-one (the MASK at ℓ predicts x_ℓ), so
    /// this is the correct way to sample an α0 = 0 model.
    /// </summary>
    Exact = 0,

    /// <summary>
    /// Timing proxy for the paper's "AR (oracle, KV cache)" row: one token per forward (slot i is fed the token chosen at
    /// slot i−1, causal over the cache). It has exactly the cost of a shift-by-one AR decoder of this size, but the
    /// network was not trained for that input: its output is NOT a sample from the model. Use it for benchmarks only.
    /// </summary>
    OneTokenPerStepTiming = 1,
}
