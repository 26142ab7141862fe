using EsoLM.Modeling;
using EsoLM.Training;

namespace EsoLM.Backends;

/// <summary>
/// An Eso-LM network loaded on a backend (spec §5: DiT with constant adaLN conditioning). Whole-batch calls only: one
/// <see cref="Forward"/> runs every layer for every window of a <see cref="ForwardBatch"/> and copies only the requested
/// rows to host memory, so a device backend needs no host round trip inside the layer loop. Token selection and all
/// randomness stay on the host. The network itself is read-only during forward calls and may be shared between threads;
/// each thread brings its own <see cref="IForwardWorkspace"/>, caches and training graph.
/// </summary>
public interface INetwork
{
    /// <summary>The backend that created this network.</summary>
    IComputeBackend Backend { get; }

    /// <summary>The model shape.</summary>
    ModelConfig Config { get; }

    /// <summary>Bytes of backend storage held by the weights (and any derived copies such as packed matrices).</summary>
    long ParameterBytes { get; }

    /// <summary>Threads the host side (token selection, batch building) may use alongside this network (at least 1).</summary>
    int HostThreads { get; }

    /// <summary>Copies the current weights to a new host <see cref="ModelParameters"/> (for saving as safetensors).</summary>
    ModelParameters CopyParametersToHost();

    /// <summary>Overwrites the weights with <paramref name="parameters"/> (same config); not concurrently with other calls.</summary>
    void LoadParameters(ModelParameters parameters);

    /// <summary>Allocates an empty KV cache of <paramref name="capacity"/> slots for one sequence, in backend storage.</summary>
    IKvCache CreateCache(int capacity);

    /// <summary>Creates scratch storage for forward calls (one per thread or session; it grows to the largest batch).</summary>
    IForwardWorkspace CreateWorkspace();

    /// <summary>
    /// Runs the network over every window of <paramref name="batch"/>: writes each window's K/V (after RoPE) into its
    /// cache at the window's write slot, attends under the window's key ranges over the cache slots, and writes
    /// <paramref name="output"/> for the selected rows into <paramref name="destination"/>:
    /// [<see cref="ForwardBatch.OutputRowCount"/>, VocabSize], sequences in the order added.
    /// </summary>
    /// <param name="batch">The windows; every cache in it must come from this network's <see cref="CreateCache"/>.</param>
    /// <param name="workspace">Scratch from this network's <see cref="CreateWorkspace"/>.</param>
    /// <param name="output">Logits or log-probabilities.</param>
    /// <param name="destination">Host memory of at least OutputRowCount × VocabSize floats.</param>
    void Forward(ForwardBatch batch, IForwardWorkspace workspace, ForwardOutput output, Span<float> destination);

    /// <summary>Creates a training graph (forward with an activation record, loss, backward); one per thread.</summary>
    ITrainingGraph CreateTrainingGraph();

    /// <summary>Creates a zeroed gradient buffer in backend storage.</summary>
    IGradients CreateGradients();

    /// <summary>
    /// Creates the optimizer state for training this network in place: AdamW moments and the EMA shadow, in backend storage.
    /// </summary>
    /// <param name="optimizer">AdamW settings.</param>
    /// <param name="emaDecay">EMA decay (the shadow starts as a copy of the current weights).</param>
    ITrainingState CreateTrainingState(AdamWOptions optimizer, double emaDecay);
}
