using EsoLM.Modeling;
using EsoLM.Training;

namespace EsoLM.Backends;

/// <summary>The outcome of <see cref="ITrainingGraph.Run"/>.</summary>
/// <param name="Loss">Σ over rows of weight·(−log p(target)) (the zero-masked model distribution).</param>
/// <param name="LossRows">Number of rows with a non-zero weight.</param>
public readonly record struct TrainingPassResult(double Loss, int LossRows);

/// <summary>
/// The training loss graph of a network: the forward pass over a <see cref="TrainingBatch"/> keeping an activation record,
/// the weighted cross-entropy at the rows that carry loss and, when a gradient buffer is given, the exact backward pass
/// into it. Evaluators run it without gradients for per-row losses. One graph per thread; its buffers grow to the
/// largest batch seen. Only the loss scalars and the per-row losses reach host memory.
/// </summary>
public interface ITrainingGraph
{
    /// <summary>The network whose current weights the graph uses.</summary>
    INetwork Network { get; }

    /// <summary>Dropout probability on the attention and MLP branch outputs (training only; 0 disables).</summary>
    float DropoutRate { get; set; }

    /// <summary>Seed of the dropout masks of the next pass (derive it from the step so a resumed run draws the same masks).</summary>
    ulong DropoutSeed { get; set; }

    /// <summary>Per-row −log p(target) of the last pass (0 at rows without loss), in batch row order, in host memory.</summary>
    ReadOnlySpan<float> RowLosses { get; }

    /// <summary>
    /// Runs forward and loss; when <paramref name="gradients"/> is given, also backward, ACCUMULATING into it (clear it
    /// between steps).
    /// </summary>
    /// <param name="batch">Sequences, key ranges, targets and loss weights.</param>
    /// <param name="gradients">A buffer from the same network's <see cref="INetwork.CreateGradients"/>, or null for forward only.</param>
    TrainingPassResult Run(TrainingBatch batch, IGradients? gradients);
}

/// <summary>Gradients of every parameter, in backend storage.</summary>
public interface IGradients
{
    /// <summary>Sets every gradient to zero.</summary>
    void Clear();

    /// <summary>The global L2 norm over all parameters (one host scalar).</summary>
    double Norm();

    /// <summary>Multiplies every gradient by <paramref name="factor"/> (gradient clipping).</summary>
    void Scale(float factor);

    /// <summary>Copies the gradients to host memory, in the parameters' layout (for tests and diagnostics).</summary>
    ModelParameters CopyToHost();
}

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

/// <summary>The host copy of an <see cref="ITrainingState"/>, as saved in a checkpoint.</summary>
/// <param name="Parameters">The raw weights.</param>
/// <param name="Ema">The EMA shadow weights.</param>
/// <param name="FirstMoment">AdamW m.</param>
/// <param name="SecondMoment">AdamW v.</param>
/// <param name="OptimizerSteps">AdamW updates taken.</param>
/// <param name="EmaUpdates">EMA updates taken.</param>
public sealed record TrainingStateSnapshot(ModelParameters Parameters, ModelParameters Ema, ModelParameters FirstMoment,
    ModelParameters SecondMoment, long OptimizerSteps, long EmaUpdates);
