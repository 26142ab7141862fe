namespace EsoLM.Tensors;

/// <summary>Which SIMD width the kernels use. <see cref="Auto"/> picks the widest one the CPU accelerates.</summary>
public enum SimdLevel
{
    /// <summary>The widest accelerated width: Vector512, else Vector256, else scalar.</summary>
    Auto = 0,

    /// <summary>512-bit vectors (AVX-512).</summary>
    Vector512 = 1,

    /// <summary>256-bit vectors (AVX2/FMA).</summary>
    Vector256 = 2,

    /// <summary>Plain scalar loops; always available.</summary>
    Scalar = 3,
}
