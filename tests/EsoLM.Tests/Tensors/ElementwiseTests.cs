using EsoLM.Tensors;

namespace EsoLM.Tests.Tensors;

public sealed class ElementwiseTests
{
    private static readonly int[] Sizes = [1, 7, 63, 65, 1000, 1537];

    public static TheoryData<SimdLevel> Levels()
    {
        var data = new TheoryData<SimdLevel>();
        foreach (var level in TensorTestData.Levels())
        {
            data.Add(level);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void LayerNormModulated_matches_plain_loops(SimdLevel simd)
    {
        var ctx = new ComputeContext(2, simd);
        foreach (int dim in Sizes)
        {
            const int rows = 5;
            var x = TensorTestData.Random(rows * dim, dim, 3f);
            for (int i = 0; i < x.Length; i++)
            {
                x[i] += 1.5f;
            }

            var w = TensorTestData.Random(dim, dim + 1);
            var scale = TensorTestData.Random(dim, dim + 2);
            var shift = TensorTestData.Random(dim, dim + 3);
            foreach (bool modulated in new[] { false, true })
            {
                var s = modulated ? scale : ReadOnlySpan<float>.Empty;
                var h = modulated ? shift : ReadOnlySpan<float>.Empty;
                var expected = new float[rows * dim];
                ReferenceKernels.LayerNormModulated(x, expected, rows, dim, w, s, h, 1e-5f);
                var actual = new float[rows * dim];
                Normalization.LayerNormModulated(ctx, x, actual, rows, dim, w, s, h, 1e-5f);
                TensorTestData.AssertClose(expected, actual, 1e-5, $"{simd} dim={dim} mod={modulated}");
                var inPlace = (float[])x.Clone();
                Normalization.LayerNormModulated(ctx, inPlace, inPlace, rows, dim, w, s, h, 1e-5f);
                TensorTestData.AssertClose(expected, inPlace, 1e-5, $"in place {simd} dim={dim}");
            }
        }
    }

    [Fact]
    public void Activations_match_plain_loops()
    {
        foreach (int n in Sizes)
        {
            var x = TensorTestData.Random(n, n, 6f);
            var expected = new float[n];
            var actual = new float[n];
            ReferenceKernels.GeluTanh(x, expected);
            Activations.GeluTanh(x, actual);
            TensorTestData.AssertClose(expected, actual, 1e-6, $"gelu n={n}");
            var inPlace = (float[])x.Clone();
            Activations.GeluTanh(inPlace, inPlace);
            TensorTestData.AssertClose(expected, inPlace, 1e-6, $"gelu in place n={n}");

            ReferenceKernels.Silu(x, expected);
            Activations.Silu(x, actual);
            TensorTestData.AssertClose(expected, actual, 1e-6, $"silu n={n}");

            expected = (float[])x.Clone();
            actual = (float[])x.Clone();
            ReferenceKernels.SoftmaxInPlace(expected);
            Activations.SoftmaxInPlace(actual);
            TensorTestData.AssertClose(expected, actual, 1e-5, $"softmax n={n}");

            expected = (float[])x.Clone();
            actual = (float[])x.Clone();
            ReferenceKernels.LogSoftmaxInPlace(expected);
            Activations.LogSoftmaxInPlace(actual);
            TensorTestData.AssertClose(expected, actual, 1e-5, $"log-softmax n={n}");
        }
    }

    [Fact]
    public void Softmax_of_a_large_row_sums_to_one()
    {
        var row = TensorTestData.Random(50258, 5, 20f);
        Activations.SoftmaxInPlace(row);
        Assert.InRange(row.Sum(v => (double)v), 1 - 1e-5, 1 + 1e-5);
    }

    [Fact]
    public void Rotary_matches_plain_loops()
    {
        foreach (int headDim in new[] { 16, 64, 6, 34 })
        {
            var table = new RotaryTable(RotaryTable.InverseFrequencies(headDim, 10000f), 512);
            const int rows = 7, heads = 3, offset = 5;
            int stride = offset + (heads * headDim) + 3;
            var data = TensorTestData.Random(rows * stride, headDim, 2f);
            int[] positions = [0, 1, 511, 17, 17, 300, 2];
            var expected = (float[])data.Clone();
            ReferenceKernels.RotaryApply(table, expected, rows, stride, offset, heads, positions);
            table.Apply(data, rows, stride, offset, heads, positions);
            TensorTestData.AssertClose(expected, data, 1e-6, $"rope d={headDim}");
        }
    }
}
