using BenchmarkDotNet.Attributes;
using EsoLM.Tensors;

namespace EsoLM.Benchmarks;

/// <summary>GEMM C = A·Wᵀ (+bias) at the model's shapes, W pre-packed; all cores.</summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    private float[] _a = [];
    private float[] _bias = [];
    private float[] _c = [];
    private PackedMatrix _w = null!;
    private readonly ComputeContext _context = ComputeContext.Default;

    [Params("1x768x2304", "128x768x2304", "1024x768x3072", "1x768x50258", "8x768x2304")]
    public string Shape { get; set; } = "1x768x2304";

    private int M => int.Parse(Shape.Split('x')[0], System.Globalization.CultureInfo.InvariantCulture);

    private int K => int.Parse(Shape.Split('x')[1], System.Globalization.CultureInfo.InvariantCulture);

    private int N => int.Parse(Shape.Split('x')[2], System.Globalization.CultureInfo.InvariantCulture);

    [GlobalSetup]
    public void Setup()
    {
        _a = Data.Random(M * K, 1);
        _bias = Data.Random(N, 2);
        _c = new float[M * N];
        _w = PackedMatrix.Pack(Data.Random(N * K, 3), N, K);
    }

    [Benchmark]
    public void MultiplyTransposed() => Gemm.MultiplyTransposed(_context, _a, M, _w, _bias, _c);
}

/// <summary>The general product of the backward pass (on-the-fly packing): dX = dY·W and dW += dYᵀ·X.</summary>
[MemoryDiagnoser]
public class GemmBackwardBenchmarks
{
    private const int Tokens = 512, In = 768, Out = 2304;
    private readonly float[] _dy = Data.Random(Tokens * Out, 1);
    private readonly float[] _w = Data.Random(Out * In, 2);
    private readonly float[] _x = Data.Random(Tokens * In, 3);
    private readonly float[] _dx = new float[Tokens * In];
    private readonly float[] _dw = new float[Out * In];

    [Benchmark]
    public void InputGradient() => Gemm.Multiply(ComputeContext.Default, _dy, _w, _dx, Tokens, In, Out);

    [Benchmark]
    public void WeightGradient() => Gemm.Multiply(ComputeContext.Default, _dy, _x, _dw, Out, In, Tokens, transposeA: true, accumulate: true);

    [Benchmark]
    public void Repack()
    {
        var packed = _packed ??= PackedMatrix.Pack(_w, Out, In);
        packed.Repack(_w);
    }

    private PackedMatrix? _packed;
}

/// <summary>One head of attention over a 1024-slot KV buffer, head width 64.</summary>
[MemoryDiagnoser]
public class AttentionBenchmarks
{
    private const int Slots = 1024, HeadDim = 64;
    private readonly float[] _k = Data.Random(Slots * HeadDim, 1);
    private readonly float[] _v = Data.Random(Slots * HeadDim, 2);
    private float[] _q = [];
    private float[] _o = [];
    private KeyRange[] _visible = [];

    [Params(1, 256)]
    public int Queries { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _q = Data.Random(Queries * HeadDim, 3);
        _o = new float[Queries * HeadDim];
        _visible = new KeyRange[Queries];
        for (int r = 0; r < Queries; r++)
        {
            _visible[r] = new KeyRange(0, 512 + r, Slots - 64, Slots);
        }
    }

    [Benchmark]
    public void AttendHead() => Attention.AttendHead(SimdLevel.Auto, _q, HeadDim, Queries, _k, _v, HeadDim, _visible, _o, HeadDim, 0.125f);
}

internal static class Data
{
    public static float[] Random(int length, int seed)
    {
        var rng = new Random(seed);
        var data = new float[length];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (float)(rng.NextDouble() - 0.5);
        }

        return data;
    }
}
