namespace EsoLM.IO;

/// <summary>A named F32 tensor to write: its shape and its row-major elements.</summary>
/// <param name="Name">The key to store it under; must be unique and not <c>__metadata__</c>.</param>
/// <param name="Shape">Dimensions, outermost first; empty for a scalar. Their product must equal <paramref name="Data"/>'s length.</param>
/// <param name="Data">The elements in row-major order.</param>
internal readonly record struct NamedTensor(string Name, IReadOnlyList<int> Shape, ReadOnlyMemory<float> Data);
