using EsoLM.Modeling;
using EsoLM.Training;

namespace EsoLM.Backends;

/// <summary>
/// The optimizer state of a network being trained, in backend storage: AdamW's moments and step count and the EMA shadow
/// weights. <see cref="Update"/> updates the network's weights in place.
/// </summary>
public interface ITrainingState
{
    /// <summary>The network being trained.</summary>
    INetwork Network { get; }

    /// <summary>AdamW updates taken so far (the t of bias correction).</summary>
    long OptimizerSteps { get; }

    /// <summary>EMA updates taken so far.</summary>
    long EmaUpdates { get; }

    /// <summary>One AdamW update of the network's weights from <paramref name="gradients"/> at <paramref name="learningRate"/>.</summary>
    void Update(IGradients gradients, double learningRate);

    /// <summary>Moves the EMA shadow towards the current weights (after <see cref="Update"/>).</summary>
    void UpdateEma();

    /// <summary>Copies weights, EMA, moments and counters to host memory (for checkpoints).</summary>
    TrainingStateSnapshot CopyToHost();

    /// <summary>Restores weights, EMA, moments and counters from a snapshot (resuming a run).</summary>
    void Restore(TrainingStateSnapshot snapshot);

    /// <summary>Copies the EMA shadow weights to host memory (what inference should use).</summary>
    ModelParameters CopyEmaToHost();
}
