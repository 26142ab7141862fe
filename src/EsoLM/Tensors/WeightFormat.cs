namespace EsoLM.Tensors;

/// <summary>
/// How the packed weight matrices of a network are stored for inference. Products always accumulate in fp32; the
/// lower-precision formats halve or quarter the bytes each decoding step must read, which is what bounds sampling
/// at small batch. <see cref="Float32"/> is exact (parity with the reference) and the default.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720:Identifier contains type name", Justification = "Float32, BFloat16 and Int8 are the standard names of the number formats.")]
public enum WeightFormat
{
    /// <summary>fp32 weights: exact; parity with the reference implementation.</summary>
    Float32 = 0,

    /// <summary>bfloat16 weights (round to nearest even, fp32 accumulation): half the bytes, about 3 significant digits.</summary>
    BFloat16 = 1,

    /// <summary>int8 weights with one fp32 scale per output row (max |w| / 127, fp32 accumulation): a quarter of the bytes.</summary>
    Int8 = 2,

    /// <summary>
    /// The <see cref="Int8"/> weights (same values and scales) multiplied by activations rounded to 16-bit fixed point per
    /// row (max |x| / L with L ≤ 32767), summed exactly in int32 and scaled once: integer multiply-adds run twice as many
    /// products per instruction as fp32 FMAs, which is what bounds batched sampling. The activation rounding adds ≈ 1/(2L)
    /// of a row's largest value per input, far below the int8 weights' own rounding. Kernels for AVX-512 BW and AVX2 give the
    /// same bits; other CPUs compute them in scalar code, much more slowly (use <see cref="Int8"/> there).
    /// </summary>
    Int8A16 = 3,
}
