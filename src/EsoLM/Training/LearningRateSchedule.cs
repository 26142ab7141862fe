namespace EsoLM.Training;

/// <summary>Linear warm-up from 0 to the peak over <see cref="WarmupSteps"/> steps, then constant or cosine.</summary>
/// <param name="Peak">Peak learning rate.</param>
/// <param name="WarmupSteps">Warm-up length in steps.</param>
/// <param name="TotalSteps">Total steps (cosine decay ends here).</param>
/// <param name="Decay">What follows the warm-up.</param>
/// <param name="MinimumFactor">Cosine floor as a fraction of the peak.</param>
internal sealed record LearningRateSchedule(double Peak, int WarmupSteps, int TotalSteps, LearningRateDecay Decay = LearningRateDecay.Constant,
    double MinimumFactor = 0.1)
{
    /// <summary>The learning rate used for update number <paramref name="step"/> (0-based).</summary>
    public double At(long step)
    {
        if (step < WarmupSteps)
        {
            return Peak * (step + 1) / WarmupSteps;
        }

        if (Decay == LearningRateDecay.Constant || TotalSteps <= WarmupSteps)
        {
            return Peak;
        }

        double progress = Math.Min(1.0, (double)(step - WarmupSteps) / (TotalSteps - WarmupSteps));
        return Peak * (MinimumFactor + ((1 - MinimumFactor) * 0.5 * (1 + Math.Cos(Math.PI * progress))));
    }
}
