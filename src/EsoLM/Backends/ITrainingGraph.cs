using EsoLM.Modeling;
using EsoLM.Training;

namespace EsoLM.Backends;

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
