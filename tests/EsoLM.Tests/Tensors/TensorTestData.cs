using System.Runtime.Intrinsics;
using EsoLM.Tensors;
using Xunit;

namespace EsoLM.Tests.Tensors;

internal static class TensorTestData
{
    public static IEnumerable<SimdLevel> Levels()
    {
        if (Vector512.IsHardwareAccelerated)
        {
            yield return SimdLevel.Vector512;
        }

        if (Vector256.IsHardwareAccelerated)
        {
            yield return SimdLevel.Vector256;
        }

        yield return SimdLevel.Scalar;
    }

    /// <summary>Every SIMD level of <see cref="Levels"/>, each on 1 and 2 threads (the product tests' paths).</summary>
    public static TheoryData<SimdLevel, int> LevelsOnOneAndTwoThreads()
    {
        var data = new TheoryData<SimdLevel, int>();
        foreach (var level in Levels())
        {
            data.Add(level, 1);
            data.Add(level, 2);
        }

        return data;
    }

    public static float[] Random(int length, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var data = new float[length];
        for (int i = 0; i < length; i++)
        {
            data[i] = (float)((rng.NextDouble() * 2) - 1) * scale;
        }

        return data;
    }

    /// <summary>Asserts |actual − expected| ≤ tol·(1 + |expected|) elementwise.</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs((double)expected[i] - actual[i]);
            if (!(diff <= tolerance * (1 + Math.Abs(expected[i]))))
            {
                Assert.Fail($"{what}: element {i}: expected {expected[i]}, got {actual[i]} (|diff| {diff:g3} > tol {tolerance:g3}).");
            }
        }
    }
}
