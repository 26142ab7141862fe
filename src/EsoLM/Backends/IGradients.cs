using EsoLM.Modeling;
using EsoLM.Training;

namespace EsoLM.Backends;

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
