using EsoLM.Tensors;

namespace EsoLM.Tests.Tensors;

public sealed class AttentionTests
{
    public static TheoryData<SimdLevel, int> Cases()
    {
        var data = new TheoryData<SimdLevel, int>();
        foreach (var level in TensorTestData.Levels())
        {
            foreach (int d in new[] { 16, 64, 32, 6, 24 })
            {
                data.Add(level, d);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AttendHead_matches_plain_loops(SimdLevel simd, int headDim)
    {
        const int slots = 300, queries = 9;
        int qStride = headDim * 3, oStride = headDim + 5;
        var keys = TensorTestData.Random(slots * headDim, 1, 2f);
        var values = TensorTestData.Random(slots * headDim, 2);
        var q = TensorTestData.Random(queries * qStride, 3, 2f);
        KeyRange[] visible =
        [
            default,                          // nothing visible
            KeyRange.Of(0, 1),                // one key
            KeyRange.Of(0, slots),            // everything
            KeyRange.Of(10, 137),             // one range
            new KeyRange(0, 50, 200, 263),    // two ranges
            new KeyRange(5, 5, 7, 9),         // empty first range, non-empty second
            new KeyRange(100, 101, 299, 300), // two single keys
            KeyRange.Of(3, 4),
            new KeyRange(250, 300, 0, 17),    // second range before the first
        ];
        var expected = TensorTestData.Random(queries * oStride, 4);
        var actual = (float[])expected.Clone();
        float scale = 1f / MathF.Sqrt(headDim);
        ReferenceKernels.AttendHead(q, qStride, queries, keys, values, headDim, visible, expected, oStride, scale);
        Attention.AttendHead(simd, q, qStride, queries, keys, values, headDim, visible, actual, oStride, scale);
        TensorTestData.AssertClose(expected, actual, 2e-5, $"{simd} d={headDim}");
        for (int d = 0; d < headDim; d++)
        {
            Assert.Equal(0f, actual[d]);
        }
    }

    [Fact]
    public void AttendHead_does_not_allocate_after_warm_up()
    {
        const int d = 64, slots = 128;
        var keys = TensorTestData.Random(slots * d, 1);
        var q = TensorTestData.Random(4 * d, 2);
        var o = new float[4 * d];
        var visible = new[] { KeyRange.Of(0, 128), KeyRange.Of(0, 5), new KeyRange(0, 3, 60, 70), default };
        Attention.AttendHead(SimdLevel.Auto, q, d, 4, keys, keys, d, visible, o, d, 0.125f);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Attention.AttendHead(SimdLevel.Auto, q, d, 4, keys, keys, d, visible, o, d, 0.125f);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AttendHead_matches_plain_loops_on_many_queries(SimdLevel simd, int headDim)
    {
        // Many queries, so the blocked path runs with full and partial query blocks and sequential-mask shapes.
        const int slots = 200, queries = 70;
        var keys = TensorTestData.Random(slots * headDim, 11, 2f);
        var values = TensorTestData.Random(slots * headDim, 12);
        var q = TensorTestData.Random(queries * headDim, 13, 2f);
        var visible = new KeyRange[queries];
        for (int r = 0; r < queries; r++)
        {
            visible[r] = (r % 5) switch
            {
                0 => KeyRange.Of(0, r + 1),
                1 => new KeyRange(0, 40 + r, 150, 150 + (r % 37)),
                2 => r % 3 == 0 ? default : KeyRange.Of(r, slots),
                3 => new KeyRange(120 + (r % 50), 190, 3, 9),
                _ => new KeyRange(0, 64, 64, 64 + r),
            };
        }

        var expected = new float[queries * headDim];
        var actual = TensorTestData.Random(queries * headDim, 14);
        float scale = 1f / MathF.Sqrt(headDim);
        ReferenceKernels.AttendHead(q, headDim, queries, keys, values, headDim, visible, expected, headDim, scale);
        Attention.AttendHead(simd, q, headDim, queries, keys, values, headDim, visible, actual, headDim, scale);
        TensorTestData.AssertClose(expected, actual, 2e-5, $"{simd} d={headDim} many");
    }

    [Fact]
    public void AttendHead_rejects_overlapping_ranges()
    {
        var kv = new float[8 * 16];
        var q = new float[16];
        var o = new float[16];
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            Attention.AttendHead(SimdLevel.Auto, q, 16, 1, kv, kv, 16, new[] { new KeyRange(0, 5, 4, 6) }, o, 16, 1f));
    }

    [Fact]
    public void AttendHead_rejects_ranges_past_the_buffer()
    {
        var kv = new float[4 * 16];
        var q = new float[16];
        var o = new float[16];
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            Attention.AttendHead(SimdLevel.Auto, q, 16, 1, kv, kv, 16, new[] { KeyRange.Of(0, 5) }, o, 16, 1f));
    }
}
