namespace EsoLM.Training;

/// <summary>The shape of the learning rate after warm-up.</summary>
public enum LearningRateDecay
{
    /// <summary>Constant after a linear warm-up (the reference's <c>get_constant_schedule_with_warmup</c>).</summary>
    Constant = 0,

    /// <summary>Cosine decay to <see cref="LearningRateSchedule.MinimumFactor"/>·peak at the last step.</summary>
    Cosine = 1,
}
