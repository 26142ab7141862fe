using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace EsoLM.Tensors;

/// <summary>Conversions between fp32 and the packed low-precision formats: scalar ones (packing time, tests) and the one vector widening every bf16 kernel shares.</summary>
internal static class LowPrecision
{
    /// <summary>fp32 → bfloat16 bits, round to nearest even (NaN stays a quiet NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x40);
        }

        uint rounding = 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>bfloat16 bits → fp32 (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float FromBFloat16(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>The int8 scale of one row: max |w| / 127 (0 for an all-zero row).</summary>
    public static float Int8Scale(ReadOnlySpan<float> row)
    {
        float max = 0;
        foreach (float w in row)
        {
            float a = MathF.Abs(w);
            if (a > max)
            {
                max = a;
            }
        }

        return max / 127f;
    }

    /// <summary>Quantizes one weight with its row's scale: round(w / scale) clamped to [−127, 127] (0 when the scale is 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static sbyte ToInt8(float value, float scale) =>
        scale == 0 ? (sbyte)0 : (sbyte)Math.Clamp(MathF.Round(value / scale, MidpointRounding.ToEven), -127f, 127f);

    /// <summary>Position of column <paramref name="c"/> (0..31) inside one k-step of a bf16 panel: columns c and c + 16 share a 32-bit word.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Bf16Slot(int c) => c < 16 ? 2 * c : (2 * (c - 16)) + 1;

    /// <summary>
    /// Position of entry <paramref name="c"/> inside one bf16 KV-cache row of <paramref name="rowLength"/> entries: each
    /// whole group of 32 entries is laid out like a k-step of a bf16 panel (<see cref="Bf16Slot"/>: entries c and c + 16
    /// share a 32-bit word), so one shift and one mask widen 32 entries into two fp32 vectors in order; the entries past
    /// the last whole group stay in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Bf16RowSlot(int c, int rowLength) => c < rowLength - (rowLength % 32) ? (c & ~31) + Bf16Slot(c & 31) : c;

    /// <summary>
    /// Widens one group of 32 bf16 entries stored in the word layout of <see cref="Bf16Slot"/> (a bf16 panel k-step, or a
    /// whole group of a KV-cache row), exactly: one 64-byte load, a shift for entries 0–15 (the low halves of the words)
    /// and a mask for entries 16–31 (the high halves).
    /// </summary>
    /// <param name="group">The 32 entries.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe (Vector512<float> Low, Vector512<float> High) WidenBf16Group(ushort* group)
    {
        var x = Vector512.Load((uint*)group);
        return (Vector512.ShiftLeft(x, 16).AsSingle(), (x & Vector512.Create(0xFFFF0000u)).AsSingle());
    }
}
