namespace EsoLM.Tensors;

/// <summary>Element-wise activations and row softmax.</summary>
public static class Activations
{
    /// <summary>GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). In place allowed.</summary>
    public static void GeluTanh(ReadOnlySpan<float> x, Span<float> y)
    {
        const float c = 0.7978845608028654f;
        for (int i = 0; i < x.Length; i++)
        {
            float v = x[i];
            y[i] = 0.5f * v * (1f + MathF.Tanh(c * (v + 0.044715f * v * v * v)));
        }
    }

    /// <summary>SiLU: x·sigmoid(x). In place allowed.</summary>
    public static void Silu(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = x[i] / (1f + MathF.Exp(-x[i]));
        }
    }

    /// <summary>Numerically stable softmax of one row, in place.</summary>
    public static void SoftmaxInPlace(Span<float> row)
    {
        float max = float.NegativeInfinity;
        foreach (var v in row)
        {
            max = MathF.Max(max, v);
        }

        double sum = 0;
        for (int i = 0; i < row.Length; i++)
        {
            row[i] = MathF.Exp(row[i] - max);
            sum += row[i];
        }

        float inv = (float)(1.0 / sum);
        for (int i = 0; i < row.Length; i++)
        {
            row[i] *= inv;
        }
    }

    /// <summary>Numerically stable log-softmax of one row, in place.</summary>
    public static void LogSoftmaxInPlace(Span<float> row)
    {
        float max = float.NegativeInfinity;
        foreach (var v in row)
        {
            max = MathF.Max(max, v);
        }

        double sum = 0;
        foreach (var v in row)
        {
            sum += Math.Exp(v - max);
        }

        float lse = max + (float)Math.Log(sum);
        for (int i = 0; i < row.Length; i++)
        {
            row[i] -= lse;
        }
    }
}
