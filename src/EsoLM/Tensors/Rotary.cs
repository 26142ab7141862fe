using System.Runtime.Intrinsics;

namespace EsoLM.Tensors;

/// <summary>
/// Rotary position embedding, GPT-NeoX "rotate-half" form over the whole head:
/// out_j = x_j cos θ_j − x_{j+D/2} sin θ_j, out_{j+D/2} = x_{j+D/2} cos θ_j + x_j sin θ_j, θ_j = pos·invFreq_j.
/// Holds cos/sin tables for positions 0..<see cref="MaxPositions"/>−1, computed in float32 as the reference does.
/// </summary>
internal sealed class RotaryTable
{
    private readonly float[] _cos;
    private readonly float[] _sin;

    /// <summary>Builds the table from inverse frequencies (length headDim/2).</summary>
    public RotaryTable(ReadOnlySpan<float> inverseFrequencies, int maxPositions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inverseFrequencies.Length, 1, nameof(inverseFrequencies));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPositions, 1);
        Half = inverseFrequencies.Length;
        MaxPositions = maxPositions;
        _cos = new float[maxPositions * Half];
        _sin = new float[maxPositions * Half];
        for (int p = 0; p < maxPositions; p++)
        {
            for (int j = 0; j < Half; j++)
            {
                float theta = p * inverseFrequencies[j];
                _cos[p * Half + j] = MathF.Cos(theta);
                _sin[p * Half + j] = MathF.Sin(theta);
            }
        }
    }

    /// <summary>The reference inverse frequencies base^(−2j/headDim), computed in float32.</summary>
    public static float[] InverseFrequencies(int headDim, float rotaryBase)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(headDim, 2);
        if (headDim % 2 != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(headDim), headDim, "The rotary dimension must be even.");
        }

        var inv = new float[headDim / 2];
        for (int j = 0; j < inv.Length; j++)
        {
            inv[j] = 1f / MathF.Pow(rotaryBase, (2f * j) / headDim);
        }

        return inv;
    }

    /// <summary>Half the head dimension.</summary>
    public int Half { get; }

    /// <summary>Number of positions in the table.</summary>
    public int MaxPositions { get; }

    /// <summary>cos θ for position <paramref name="position"/> (length <see cref="Half"/>).</summary>
    public ReadOnlySpan<float> Cos(int position) => _cos.AsSpan(position * Half, Half);

    /// <summary>sin θ for position <paramref name="position"/> (length <see cref="Half"/>).</summary>
    public ReadOnlySpan<float> Sin(int position) => _sin.AsSpan(position * Half, Half);

    /// <summary>
    /// Rotates <paramref name="heads"/> heads of width 2·<see cref="Half"/> in each of <paramref name="rows"/> rows, in place.
    /// Row r starts at r·<paramref name="rowStride"/> + <paramref name="offset"/> and is rotated at
    /// <paramref name="positions"/>[r].
    /// </summary>
    public void Apply(Span<float> data, int rows, int rowStride, int offset, int heads, ReadOnlySpan<int> positions)
    {
        int d = 2 * Half;
        for (int r = 0; r < rows; r++)
        {
            int pos = positions[r];
            if ((uint)pos >= (uint)MaxPositions)
            {
                throw new ArgumentOutOfRangeException(nameof(positions), pos, $"Position must be in [0, {MaxPositions}).");
            }

            var cos = Cos(pos);
            var sin = Sin(pos);
            for (int h = 0; h < heads; h++)
            {
                var x = data.Slice(r * rowStride + offset + h * d, d);
                Rotate(x[..Half], x[Half..], cos, sin);
            }
        }
    }

    private static void Rotate(Span<float> lo, Span<float> hi, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int n = lo.Length, j = 0;
        if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
        {
            for (; j + 8 <= n; j += 8)
            {
                var a = System.Runtime.Intrinsics.Vector256.Create(lo.Slice(j, 8));
                var b = System.Runtime.Intrinsics.Vector256.Create(hi.Slice(j, 8));
                var c = System.Runtime.Intrinsics.Vector256.Create(cos.Slice(j, 8));
                var s = System.Runtime.Intrinsics.Vector256.Create(sin.Slice(j, 8));
                (a * c - b * s).CopyTo(lo.Slice(j, 8));
                (b * c + a * s).CopyTo(hi.Slice(j, 8));
            }
        }

        for (; j < n; j++)
        {
            float a = lo[j], b = hi[j];
            lo[j] = a * cos[j] - b * sin[j];
            hi[j] = b * cos[j] + a * sin[j];
        }
    }
}
