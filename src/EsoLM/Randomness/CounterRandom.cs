namespace EsoLM.Randomness;

/// <summary>What a counter-based draw is used for; part of the key, so draws for different purposes never collide.</summary>
internal enum DrawPurpose
{
    /// <summary>The binomial draws of the step planner (keyed by seed only: rows with one seed share a plan).</summary>
    Plan = 1,

    /// <summary>The generation order of one sequence (Fisher–Yates swaps).</summary>
    Order = 2,

    /// <summary>The Gumbel noise of token selection (one uniform per vocabulary entry).</summary>
    Token = 3,

    /// <summary>The per-position unmask decisions of ancestral (MDLM / block diffusion) steps.</summary>
    Unmask = 4,
}

/// <summary>
/// Counter-based randomness: every draw is a pure function (a SplitMix64-style hash) of
/// (seed, sequence id, purpose, step, position, index), so a sequence's random numbers never depend on which batch it
/// is in, on the order rows are processed or on the thread count. There is no state to advance and nothing to lock;
/// instances are immutable values and thread-safe.
/// </summary>
internal readonly struct CounterRandom : IEquatable<CounterRandom>
{
    private const ulong Golden = CounterHash.Golden;
    private readonly ulong _key;

    /// <summary>Creates the generator of one sequence.</summary>
    /// <param name="seed">The user's seed.</param>
    /// <param name="sequenceId">The sequence id (independent streams per id).</param>
    public CounterRandom(ulong seed, long sequenceId = 0)
    {
        Seed = seed;
        SequenceId = sequenceId;
        _key = Mix(Mix(seed ^ 0x5851F42D4C957F2DUL) + ((ulong)sequenceId * Golden) + 0x14057B7EF767814FUL);
    }

    /// <summary>The seed.</summary>
    public ulong Seed { get; }

    /// <summary>The sequence id.</summary>
    public long SequenceId { get; }

    /// <summary>The SplitMix64 finalizer (a bijection on 64-bit values with full avalanche).</summary>
    public static ulong Mix(ulong z) => CounterHash.Finalize(z);

    /// <summary>
    /// The hash of the key up to the position: combine it with an index through <see cref="At"/> to get many draws
    /// (for instance one per vocabulary entry) at the cost of one mix each.
    /// </summary>
    public ulong Base(DrawPurpose purpose, long step, long position)
    {
        ulong h = Mix(_key + ((ulong)purpose * Golden));
        h = Mix(h + ((ulong)step * 0xD6E8FEB86659FD93UL) + 1);
        return Mix(h + ((ulong)position * 0xCA5A826395121157UL) + 2);
    }

    /// <summary>The 64 random bits of draw <paramref name="index"/> under a <see cref="Base"/> hash.</summary>
    public static ulong At(ulong baseHash, long index) => Mix(baseHash + ((ulong)(index + 1) * Golden));

    /// <summary>Converts 64 random bits to a uniform double in the OPEN interval (0, 1) (53 bits; never 0 or 1).</summary>
    /// <remarks>
    /// (k + 0.5)·2⁻⁵³ for the top 53 bits k; for k = 2⁵³ − 1 that sum rounds to 2⁵³ (ties to even), i.e. exactly 1, so that
    /// single value is clamped to the largest double below 1 (every other draw is unchanged). Without the clamp a Gumbel draw
    /// could be +∞ and override the logits.
    /// </remarks>
    public static double ToUnitOpen(ulong bits) => Math.Min(((bits >> 11) + 0.5) * (1.0 / (1UL << 53)), LargestBelowOne);

    /// <summary>The largest double below 1 (1 − 2⁻⁵³): the largest value <see cref="ToUnitOpen"/> returns.</summary>
    public const double LargestBelowOne = 1.0 - (1.0 / (1UL << 53));

    /// <summary>64 random bits for the key (purpose, step, position, index).</summary>
    public ulong NextBits(DrawPurpose purpose, long step, long position, long index = 0) => At(Base(purpose, step, position), index);

    /// <summary>A uniform double in the open interval (0, 1) for the key (purpose, step, position, index).</summary>
    public double NextDouble(DrawPurpose purpose, long step, long position, long index = 0) =>
        ToUnitOpen(NextBits(purpose, step, position, index));

    /// <summary>
    /// A uniform integer in [0, <paramref name="maxExclusive"/>) for the key (multiply-high of 64 random bits: the bias is
    /// below maxExclusive / 2^64, far under anything measurable).
    /// </summary>
    public int NextInt32(DrawPurpose purpose, long step, long position, long index, int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxExclusive, 1);
        return (int)Math.BigMul(NextBits(purpose, step, position, index), (ulong)maxExclusive, out _);
    }

    /// <inheritdoc />
    public bool Equals(CounterRandom other) => Seed == other.Seed && SequenceId == other.SequenceId;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is CounterRandom other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Seed, SequenceId);

    /// <summary>Equality of (seed, sequence id).</summary>
    public static bool operator ==(CounterRandom left, CounterRandom right) => left.Equals(right);

    /// <summary>Inequality of (seed, sequence id).</summary>
    public static bool operator !=(CounterRandom left, CounterRandom right) => !left.Equals(right);
}
