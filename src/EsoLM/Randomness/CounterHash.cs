namespace EsoLM.Randomness;

/// <summary>
/// Counter-based randomness: a draw is a hash of its key (seed, step, row, position, purpose …) rather than the next value
/// of a shared generator, so results never depend on thread scheduling, batch composition or what ran before — the
/// property that makes training resumable bit-for-bit and sampling batch-invariant. The mixer is the SplitMix64 output
/// function (Steele, Lea and Flood, 2014).
/// </summary>
internal static class CounterHash
{
    /// <summary>The SplitMix64 increment (2^64 / φ).</summary>
    public const ulong Golden = 0x9E3779B97F4A7C15UL;

    /// <summary>SplitMix64: the output for state <paramref name="x"/> (mixes x + Golden).</summary>
    public static ulong Mix(ulong x) => Finalize(x + Golden);

    /// <summary>The SplitMix64 output function alone (a bijective avalanche of <paramref name="x"/>).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static ulong Finalize(ulong x)
    {
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    /// <summary>A hash of a seed and three key words (each mixed in turn, so distinct keys give independent streams).</summary>
    public static ulong Key(ulong seed, ulong a, ulong b = 0, ulong c = 0) => Mix(Mix(Mix(seed ^ Mix(a)) ^ b) ^ c);

    /// <summary>The top 53 bits of <paramref name="bits"/> as a double in [0, 1).</summary>
    public static double Unit(ulong bits) => (bits >> 11) * (1.0 / 9007199254740992.0);
}
