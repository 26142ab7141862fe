namespace EsoLM.Schedules;

/// <summary>
/// The cosine schedule s(t) = cos(π/2 · (1 − ε)t): it keeps more tokens clean early and masks faster late. ε = 1e-3 keeps
/// α_1 slightly above zero, as in the log-linear schedule.
/// </summary>
public sealed class CosineSchedule : INoiseSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="epsilon">ε in [0, 1).</param>
    public CosineSchedule(double epsilon = 1e-3)
    {
        if (!(epsilon >= 0 && epsilon < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "The schedule epsilon must be in [0, 1).");
        }

        Epsilon = epsilon;
    }

    /// <summary>ε.</summary>
    public double Epsilon { get; }

    /// <inheritdoc />
    public string Name => "cosine";

    /// <inheritdoc />
    public double Shape(double t) => Math.Cos(Math.PI / 2 * (1 - Epsilon) * t);

    /// <inheritdoc />
    public double ShapeDerivative(double t) => -(Math.PI / 2) * (1 - Epsilon) * Math.Sin(Math.PI / 2 * (1 - Epsilon) * t);
}
