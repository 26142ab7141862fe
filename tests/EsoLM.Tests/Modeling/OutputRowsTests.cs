using EsoLM.Backends.Cpu;
using EsoLM.Modeling;
using EsoLM.Tensors;
using Xunit;

namespace EsoLM.Tests.Modeling;

/// <summary>
/// The last block finishes only the rows whose logits are wanted. Checked against the plain path, the same windows with
/// every row an output: the wanted rows' logits must have the same bits, and the caches the same contents, which a
/// following decoding step (reading every slot, the last layer's included) shows.
/// </summary>
public sealed class OutputRowsTests
{
    public static TheoryData<int, WeightFormat, int> Cases()
    {
        var data = new TheoryData<int, WeightFormat, int>();
        foreach (int threads in new[] { 1, 2 })
        {
            foreach (var kv in new[] { WeightFormat.Float32, WeightFormat.BFloat16 })
            {
                foreach (int heads in new[] { 1, 4 }) // head width 64 (the windowed kernels) and 16
                {
                    data.Add(threads, kv, heads);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Wanted_rows_keep_their_bits_and_every_row_fills_the_cache(int threads, WeightFormat kvCache, int heads)
    {
        var config = CachedForwardTests.TinyConfig(vocab: 41, mask: 3, length: 24) with { HiddenSize = 64, Heads = heads };
        var backend = new CpuBackend(new ComputeContext(threads), WeightFormat.Float32, kvCache);
        var model = (DiffusionTransformer)backend.Load(ModelParameters.CreateRandom(config, 5, 0.3f));
        int v = config.VocabSize;

        // (rows, first output row, output rows) per sequence: a middle slice, none, the last row, all of them.
        (int Rows, int Start, int Count)[] windows = [(5, 1, 2), (4, 0, 0), (6, 5, 1), (3, 0, 3)];
        var rng = new Random(8);
        var tokens = windows.Select(w => Enumerable.Range(0, w.Rows).Select(_ => rng.Next(4, v)).ToArray()).ToArray();

        var full = Forward(model, windows, tokens, allRows: true, out var fullCaches);
        var wanted = Forward(model, windows, tokens, allRows: false, out var wantedCaches);
        int fullRow = 0, wantedRow = 0;
        for (int s = 0; s < windows.Length; s++)
        {
            var (rows, start, count) = windows[s];
            for (int r = start; r < start + count; r++)
            {
                AssertBits(full.AsSpan((fullRow + r) * v, v), wanted.AsSpan(wantedRow * v, v), $"sequence {s} row {r}");
                wantedRow++;
            }

            fullRow += rows;
        }

        Assert.Equal(wantedRow * v, wanted.Length);

        // One decoding step per sequence over everything cached: same logits from both sets of caches.
        var nextFull = Step(model, windows, fullCaches);
        var nextWanted = Step(model, windows, wantedCaches);
        AssertBits(nextFull, nextWanted, "the step after");
    }

    [Fact]
    public void A_batch_without_output_rows_still_fills_the_caches()
    {
        var config = CachedForwardTests.TinyConfig(vocab: 41, mask: 3, length: 24) with { HiddenSize = 64, Heads = 1 };
        var model = (DiffusionTransformer)new CpuBackend(new ComputeContext(2), WeightFormat.Float32, WeightFormat.Float32)
            .Load(ModelParameters.CreateRandom(config, 6, 0.3f));
        (int Rows, int Start, int Count)[] windows = [(5, 0, 0), (2, 1, 0)];
        int[][] tokens = [[4, 5, 6, 7, 8], [9, 10]];
        Forward(model, windows, tokens, allRows: true, out var fullCaches);
        var none = Forward(model, windows, tokens, allRows: false, out var noneCaches);
        Assert.Empty(none);
        AssertBits(Step(model, windows, fullCaches), Step(model, windows, noneCaches), "the step after");
    }

    /// <summary>Every window written from slot 0 with causal visibility; logits of the chosen rows (or of all rows).</summary>
    private static float[] Forward(DiffusionTransformer model, (int Rows, int Start, int Count)[] windows, int[][] tokens, bool allRows,
        out Caching.KvCache[] caches)
    {
        var batch = new ForwardBatch();
        caches = new Caching.KvCache[windows.Length];
        for (int s = 0; s < windows.Length; s++)
        {
            var (rows, start, count) = windows[s];
            caches[s] = model.CreateCache(model.Config.ContextLength);
            int[] positions = [.. Enumerable.Range(0, rows)];
            KeyRange[] visible = [.. Enumerable.Range(0, rows).Select(i => KeyRange.Of(0, i + 1))];
            batch.Add(caches[s], 0, tokens[s], positions, visible, allRows ? 0 : start, allRows ? rows : count);
        }

        var logits = new float[batch.OutputRowCount * model.Config.VocabSize];
        model.ForwardLogits(batch, model.CreateWorkspace(), logits);
        return logits;
    }

    /// <summary>A two-row decoding window per sequence (a clean token, then the mask) that sees every written slot.</summary>
    private static float[] Step(DiffusionTransformer model, (int Rows, int Start, int Count)[] windows, Caching.KvCache[] caches)
    {
        var batch = new ForwardBatch();
        for (int s = 0; s < windows.Length; s++)
        {
            int n = windows[s].Rows;
            batch.Add(caches[s], n, [7, model.Config.MaskTokenId], [n, n + 1], [KeyRange.Of(0, n + 1), KeyRange.Of(0, n + 2)], 0, 2);
        }

        var logits = new float[batch.OutputRowCount * model.Config.VocabSize];
        model.ForwardLogits(batch, model.CreateWorkspace(), logits);
        return logits;
    }

    private static void AssertBits(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(BitConverter.SingleToUInt32Bits(expected[i]) == BitConverter.SingleToUInt32Bits(actual[i]),
                $"{what} [{i}]: {expected[i]} vs {actual[i]}");
        }
    }
}
