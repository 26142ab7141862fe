using EsoLM.Randomness;

namespace EsoLM.Modeling;

/// <summary>One named parameter tensor (row-major data, PyTorch Linear layout [out, in] for matrices).</summary>
public sealed class ParameterTensor
{
    internal ParameterTensor(string name, int[] shape)
    {
        Name = name;
        Shape = shape;
        long count = 1;
        foreach (var d in shape)
        {
            count *= d;
        }

        Data = new float[checked((int)count)];
    }

    /// <summary>The reference state-dict key (without the Lightning <c>backbone.</c> prefix).</summary>
    public string Name { get; }

    /// <summary>The tensor shape.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>The values; mutable so that optimizers can update them in place.</summary>
    public float[] Data { get; }

    /// <summary>Shape as text, e.g. <c>[38, 64]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}
