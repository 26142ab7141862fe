namespace EsoLM.Randomness;

/// <summary>Identifies one token draw: which sequence, which step, which original position.</summary>
/// <param name="Seed">The request's seed.</param>
/// <param name="SequenceId">The request's sequence id.</param>
/// <param name="Step">The sampler step (0-based, per sequence).</param>
/// <param name="Position">The original position being decoded.</param>
internal readonly record struct DrawKey(ulong Seed, long SequenceId, int Step, int Position);

/// <summary>
/// Supplies the float64 Gumbel noise −log(−log u) added to a row of logits before the argmax. The default
/// (<see cref="CounterGumbelNoise"/>) is counter-based; tests inject recorded noise to replay a reference trace.
/// Implementations must be pure functions of the key (thread-safe).
/// </summary>
internal interface IGumbelNoiseSource
{
    /// <summary>Fills <paramref name="noise"/> (one value per vocabulary entry) for the draw <paramref name="key"/>.</summary>
    void Fill(DrawKey key, Span<double> noise);
}

/// <summary>Gumbel noise from <see cref="CounterRandom"/> uniforms keyed by (seed, sequence, step, position, vocabulary index).</summary>
internal sealed class CounterGumbelNoise : IGumbelNoiseSource
{
    /// <summary>The shared instance.</summary>
    public static CounterGumbelNoise Instance { get; } = new();

    /// <inheritdoc />
    public void Fill(DrawKey key, Span<double> noise)
    {
        ulong b = new CounterRandom(key.Seed, key.SequenceId).Base(DrawPurpose.Token, key.Step, key.Position);
        for (int i = 0; i < noise.Length; i++)
        {
            noise[i] = CounterRandom.ToUnitOpen(CounterRandom.At(b, i));
        }

        // −log(−log u), vectorized.
        System.Numerics.Tensors.TensorPrimitives.Log(noise, noise);
        System.Numerics.Tensors.TensorPrimitives.Negate(noise, noise);
        System.Numerics.Tensors.TensorPrimitives.Log(noise, noise);
        System.Numerics.Tensors.TensorPrimitives.Negate(noise, noise);
    }
}
