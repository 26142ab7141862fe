namespace EsoLM.Training;

/// <summary>Settings of a training run.</summary>
public sealed record TrainerOptions
{
    /// <summary>Total optimizer steps (also when resuming: the run stops at this step).</summary>
    public int Steps { get; init; } = 1000;

    /// <summary>Rows per batch (per micro-batch when <see cref="GradientAccumulation"/> is above 1).</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>
    /// Micro-batches of <see cref="BatchSize"/> rows per optimizer step, their gradients averaged (1: none). The step
    /// sees the same data rows as one batch of GradientAccumulation × BatchSize rows and equals it in math (each micro-batch
    /// draws its own corruption) while the activations only ever hold one micro-batch. Checkpoints fall on step boundaries.
    /// </summary>
    public int GradientAccumulation { get; init; } = 1;

    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 3e-4;

    /// <summary>Linear warm-up steps.</summary>
    public int WarmupSteps { get; init; } = 100;

    /// <summary>What follows the warm-up.</summary>
    public LearningRateDecay Decay { get; init; } = LearningRateDecay.Constant;

    /// <summary>Gradient-norm clipping threshold (0 disables).</summary>
    public double GradientClip { get; init; } = 1.0;

    /// <summary>EMA decay (with the reference warm-up).</summary>
    public double EmaDecay { get; init; } = 0.9999;

    /// <summary>Dropout on the branch outputs.</summary>
    public float Dropout { get; init; }

    /// <summary>Optimizer settings.</summary>
    public AdamWOptions Optimizer { get; init; } = new();

    /// <summary>Seed of data order, corruption and dropout.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Write a checkpoint every this many steps (0: only at the end).</summary>
    public int CheckpointInterval { get; init; }

    /// <summary>Throws naming the first invalid setting.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Steps, 1, nameof(Steps));
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchSize, 1, nameof(BatchSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(GradientAccumulation, 1, nameof(GradientAccumulation));
        if ((long)GradientAccumulation * BatchSize > int.MaxValue / 2)
        {
            throw new ArgumentOutOfRangeException(nameof(GradientAccumulation), GradientAccumulation,
                $"GradientAccumulation × BatchSize ({GradientAccumulation} × {BatchSize}) must stay below {int.MaxValue / 2}.");
        }
        if (!(LearningRate > 0 && double.IsFinite(LearningRate)))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be positive and finite.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(WarmupSteps, nameof(WarmupSteps));
        if (!(GradientClip >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(GradientClip), GradientClip, "The gradient clip must be non-negative (0 disables).");
        }

        if (!(Dropout >= 0 && Dropout < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "Dropout must be in [0, 1).");
        }

        if (!(EmaDecay >= 0 && EmaDecay < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(EmaDecay), EmaDecay, "The EMA decay must be in [0, 1).");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(CheckpointInterval, nameof(CheckpointInterval));
        Optimizer.Validate();
    }
}
