using EsoLM.Modeling;

namespace EsoLM.Backends;

/// <summary>
/// A compute backend: the one seam between the Eso-LM algorithms (samplers, objective, trainer, evaluators, hosting) and
/// the kernels that run the network. A backend turns host parameters into an <see cref="INetwork"/> whose weights, KV
/// caches, activations, gradients and optimizer state live in the backend's own storage (managed arrays for
/// <c>cpu</c>, device tensors for a GPU backend). Selected by name: <c>EsoLmOptions.Backend</c>, <c>AddEsoLm()</c>'s
/// <c>AddBackend</c>, and <c>--backend</c> on the CLI. Implementations must be thread-safe.
/// </summary>
public interface IComputeBackend
{
    /// <summary>The selection key, e.g. <c>cpu</c>.</summary>
    string Name { get; }

    /// <summary>Where the backend computes and in which element type.</summary>
    BackendDescription Description { get; }

    /// <summary>
    /// Copies (or, for the CPU backend, adopts) <paramref name="parameters"/> into backend storage and returns the network.
    /// The caller may keep using <paramref name="parameters"/> on the host afterwards only if the backend copied them; read
    /// them back with <see cref="INetwork.CopyParametersToHost"/>.
    /// </summary>
    /// <param name="parameters">Host parameters, e.g. from <c>ModelFile.Load</c> (safetensors).</param>
    /// <returns>A network owned by the caller. Backend storage is released when the objects are collected; an implementation that
    /// also implements <see cref="IDisposable"/> may be disposed by its owner to release it sooner.</returns>
    INetwork Load(ModelParameters parameters);
}
