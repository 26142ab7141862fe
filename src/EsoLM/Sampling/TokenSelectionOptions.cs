namespace EsoLM.Sampling;

/// <summary>
/// How a token is chosen from a row of logits (spec §4.2, §10.10): zero-masking (the mask id is never produced), then
/// temperature, top-k and top-p (nucleus) filtering in float64, then float64 Gumbel-max — or plain argmax when
/// <see cref="Greedy"/>. The defaults (temperature 1, no top-k, top-p 1) are the reference sampler's.
/// </summary>
public sealed record TokenSelectionOptions
{
    /// <summary>The reference's settings: Gumbel-max over the zero-masked logits, no filtering.</summary>
    public static TokenSelectionOptions Default { get; } = new();

    /// <summary>Plain argmax of the zero-masked logits.</summary>
    public static TokenSelectionOptions GreedyDecoding { get; } = new() { Greedy = true };

    /// <summary>Choose the most likely token (no noise; temperature, top-k and top-p do not change the argmax).</summary>
    public bool Greedy { get; init; }

    /// <summary>Logits are divided by this (&gt; 0). For deterministic decoding use <see cref="Greedy"/>, not 0.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Keep only the k most likely tokens (ties with the k-th are kept); 0 = off.</summary>
    public int TopK { get; init; }

    /// <summary>Nucleus filter mass p ∈ (0, 1]; 1 = off. The reference's reported samples use 0.9.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Throws when a setting is out of range, naming it, its value and the limit.</summary>
    public void Validate()
    {
        if (!(Temperature > 0) || double.IsPositiveInfinity(Temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature,
                "Temperature must be a finite number > 0; for deterministic (temperature-0) decoding set Greedy = true.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(TopK, nameof(TopK));
        if (!(TopP > 0 && TopP <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "TopP must be in (0, 1] (1 turns the nucleus filter off).");
        }
    }
}
