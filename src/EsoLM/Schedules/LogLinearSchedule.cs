namespace EsoLM.Schedules;

/// <summary>
/// The paper's schedule: s(t) = 1 − (1 − ε)t with ε = 1e-3, so α_t = α0(1 − (1 − ε)t) and α'_t = −α0(1 − ε)
/// (reference <c>LogLinear</c>; with α0 = 1 it is MDLM's log-linear schedule).
/// </summary>
public sealed class LogLinearSchedule : INoiseSchedule
{
    /// <summary>The schedule with the reference ε = 1e-3.</summary>
    public static LogLinearSchedule Default { get; } = new();

    /// <summary>Creates the schedule.</summary>
    /// <param name="epsilon">ε in [0, 1): s(1) = ε.</param>
    public LogLinearSchedule(double epsilon = 1e-3)
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
    public string Name => "log-linear";

    /// <inheritdoc />
    public double Shape(double t) => 1 - ((1 - Epsilon) * t);

    /// <inheritdoc />
    public double ShapeDerivative(double t) => -(1 - Epsilon);
}
