namespace EsoLM.Schedules;

/// <summary>
/// The masking schedule of the forward process. A schedule gives the shape s(t) on t ∈ [0, 1], with s(0) = 1 and s
/// decreasing towards ≈ 0 at t = 1; the probability that a token is still clean at time t is α_t = α0·s(t) (spec §1), so
/// α0 slides the model between AR (α0 = 0) and MDM (α0 = 1) with the same schedule. Implementations must be
/// thread-safe and pure.
/// </summary>
public interface INoiseSchedule
{
    /// <summary>A short name (used as the DI key and in model metadata), e.g. <c>log-linear</c>.</summary>
    string Name { get; }

    /// <summary>s(t), the fraction of α0 kept at time <paramref name="t"/>.</summary>
    double Shape(double t);

    /// <summary>ds/dt at time <paramref name="t"/> (≤ 0).</summary>
    double ShapeDerivative(double t);

    /// <summary>α_t = α0·s(t): the probability that a token is clean at time <paramref name="t"/>.</summary>
    double Alpha(double t, double alpha0) => alpha0 * Shape(t);

    /// <summary>dα/dt = α0·s'(t).</summary>
    double AlphaDerivative(double t, double alpha0) => alpha0 * ShapeDerivative(t);

    /// <summary>
    /// The ELBO weight α'_t / (1 − α_t) of the diffusion term (negative; the loss is weight·log p ≥ 0). Zero when α0 = 0.
    /// </summary>
    double ElboWeight(double t, double alpha0) => AlphaDerivative(t, alpha0) / (1 - Alpha(t, alpha0));
}
