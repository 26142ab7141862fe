using EsoLM.Backends.Cpu;
using EsoLM.Caching;
using EsoLM.Modeling;
using EsoLM.Tensors;
using Xunit;

namespace EsoLM.Tests.Modeling;

/// <summary>
/// A bf16 KV cache (opt-in) must give what attention over bf16-rounded keys and values gives (checked against the plain
/// reference attention, rounding written out here), stay close to the fp32 cache, and hold half the bytes.
/// </summary>
public sealed class KvCacheFormatTests
{
    private static ModelConfig Config() => CachedForwardTests.TinyConfig(vocab: 70, mask: 3, length: 24) with { HiddenSize = 64, Heads = 4 };

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Bf16_cache_stays_close_to_fp32_in_full_and_incremental_windows(int threads)
    {
        var parameters = ModelParameters.CreateRandom(Config(), 9, 0.3f);
        var exact = Run(new CpuBackend(new ComputeContext(threads), WeightFormat.Float32, WeightFormat.Float32), parameters);
        var half = Run(new CpuBackend(new ComputeContext(threads), WeightFormat.Float32, WeightFormat.BFloat16), parameters);
        Assert.Equal(exact.Length, half.Length);
        double diff = 0, norm = 0;
        for (int i = 0; i < exact.Length; i++)
        {
            diff += (half[i] - exact[i]) * (double)(half[i] - exact[i]);
            norm += exact[i] * (double)exact[i];
        }

        // Not identical (the cache really is rounded), but within bf16's ≈ 3 significant digits.
        Assert.InRange(Math.Sqrt(diff / norm), 1e-6, 0.02);
    }

    [Fact]
    public void Guide_snippet_builds_a_bf16_cache_backend()
    {
        var backend = new CpuBackend(new ComputeContext(), WeightFormat.BFloat16, kvCache: WeightFormat.BFloat16);
        Assert.Equal(WeightFormat.BFloat16, backend.KvCache);
        var model = (DiffusionTransformer)backend.Load(ModelParameters.CreateRandom(Config(), 1));
        Assert.Equal(WeightFormat.BFloat16, model.CreateCache(8).Format);
    }

    [Fact]
    public void Bf16_cache_holds_half_the_bytes_and_refuses_int8()
    {
        var config = Config();
        Assert.Equal(new KvCache(config, 24).SizeInBytes, 2 * new KvCache(config, 24, WeightFormat.BFloat16).SizeInBytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => new KvCache(config, 24, WeightFormat.Int8));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new CpuBackend(null, WeightFormat.Float32, WeightFormat.Int8));
        Assert.Equal("kvCache", e.ParamName);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(6)]
    public void Widened_bf16_cache_attention_equals_reference_attention_of_rounded_entries(int queries)
    {
        // The bf16 path widens exactly and then runs the fp32 kernel: compare it with the plain reference attention over
        // keys and values rounded to bf16 by the format's definition (nearest, ties to even, of the top 16 bits).
        const int d = 64, slots = 40;
        var keys = TensorsRandom(slots * d, 1);
        var values = TensorsRandom(slots * d, 2);
        var q = TensorsRandom(queries * d, 3);
        var k16 = new ushort[keys.Length];
        var v16 = new ushort[values.Length];
        Attention.ToBFloat16Rows(keys, k16, d); // the cache's row layout, as the forward pass writes it
        Attention.ToBFloat16Rows(values, v16, d);
        var visible = Enumerable.Range(0, queries).Select(r => KeyRange.Of(0, slots - (3 * r))).ToArray();
        var wideK = Attention.WidenBf16(k16, d, Scratch.WideKeys).ToArray();
        var wideV = Attention.WidenBf16(v16, d, Scratch.WideValues).ToArray();
        Assert.Equal(keys.Select(Round).ToArray(), wideK);
        Assert.Equal(values.Select(Round).ToArray(), wideV);
        var actual = new float[queries * d];
        var expected = new float[queries * d];
        Attention.AttendHead(SimdLevel.Auto, q, d, queries, wideK, wideV, d, visible, actual, d, 0.125f);
        ReferenceKernels.AttendHead(q, d, queries, keys.Select(Round).ToArray(), values.Select(Round).ToArray(), d, visible, expected, d, 0.125f);
        for (int i = 0; i < actual.Length; i++)
        {
            Assert.True(Math.Abs(actual[i] - expected[i]) < 1e-4, $"{i}: {actual[i]} vs {expected[i]}");
        }

        if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
        {
            // The fused kernel (widening in registers) over two key ranges per query.
            var twoRanges = Enumerable.Range(0, queries).Select(r => new KeyRange(0, 10 + r, 20, slots - r)).ToArray();
            var fused = new float[queries * d];
            Attention.AttendHeadBf16(q, d, queries, k16, v16, twoRanges, fused, d, 0.125f);
            ReferenceKernels.AttendHead(q, d, queries, keys.Select(Round).ToArray(), values.Select(Round).ToArray(), d, twoRanges, expected, d, 0.125f);
            for (int i = 0; i < fused.Length; i++)
            {
                Assert.True(Math.Abs(fused[i] - expected[i]) < 1e-4, $"fused {i}: {fused[i]} vs {expected[i]}");
            }
        }
    }

    private static float Round(float x)
    {
        uint bits = BitConverter.SingleToUInt32Bits(x);
        uint low = bits & 0xFFFF;
        uint top = bits & 0xFFFF0000u;
        if (low > 0x8000 || (low == 0x8000 && (top & 0x10000) != 0))
        {
            top += 0x10000;
        }

        return BitConverter.UInt32BitsToSingle(top);
    }

    private static float[] TensorsRandom(int n, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2) - 1))];
    }

    /// <summary>A full 12-token window, then 6 incremental two-row windows (previous token + one query), logits of every row.</summary>
    private static float[] Run(CpuBackend backend, ModelParameters parameters)
    {
        var model = (DiffusionTransformer)backend.Load(parameters);
        var config = model.Config;
        var cache = model.CreateCache(config.ContextLength);
        var workspace = model.CreateWorkspace();
        var rng = new Random(4);
        var output = new List<float>();
        var batch = new ForwardBatch();
        int[] tokens = [.. Enumerable.Range(0, 12).Select(_ => rng.Next(4, config.VocabSize))];
        int[] positions = [.. Enumerable.Range(0, 12)];
        KeyRange[] ranges = [.. Enumerable.Range(0, 12).Select(i => KeyRange.Of(0, i + 1))];
        batch.Add(cache, 0, tokens, positions, ranges, 0, 12);
        var logits = new float[12 * config.VocabSize];
        model.ForwardLogits(batch, workspace, logits);
        output.AddRange(logits);
        for (int step = 0; step < 6; step++)
        {
            int slot = 12 + step;
            batch.Clear();
            batch.Add(cache, slot - 1, [rng.Next(4, config.VocabSize), config.MaskTokenId], [slot - 1, slot],
                [KeyRange.Of(0, slot), KeyRange.Of(0, slot + 1)], 1, 1);
            var row = new float[config.VocabSize];
            model.ForwardLogits(batch, workspace, row);
            output.AddRange(row);
        }

        return [.. output];
    }
}
