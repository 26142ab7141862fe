using System.Text.Json;
using EsoLM.Sampling;
using EsoLM.Tests.Support;
using EsoLM.Diagnostics;

namespace EsoLM.Tests.Sampling;

public sealed class TokenSelectorTests
{
    [Theory]
    [InlineData("top_p_0.9")]
    [InlineData("top_p_0.5")]
    public void Nucleus_kept_sets_match_the_reference(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(SharedData.Reference, "sampling_utils.json")));
        var topP = doc.RootElement.GetProperty("top_p");
        var logits = ReferenceTensor.Get(topP, "logits");
        var entry = topP.GetProperty(name);
        double p = entry.GetProperty("top_p").GetDouble();
        var kept = ReferenceTensor.Get(entry, "kept").ToInt32s();
        int v = logits.Shape[2], rows = logits.Count / v;
        var selector = new TokenSelector(v, v - 1, new TokenSelectionOptions { TopP = p });
        for (int r = 0; r < rows; r++)
        {
            var x = logits.Values.AsSpan(r * v, v).ToArray();
            selector.Filter(x, 0, p);
            for (int t = 0; t < v; t++)
            {
                Assert.True((kept[(r * v) + t] == 1) == (x[t] > double.NegativeInfinity), $"row {r} token {t}");
            }

            // And through the public float path (the reference logits are exact float32 values with the mask at −1e6).
            var f = logits.Values.AsSpan(r * v, v).ToArray().Select(d => (float)d).ToArray();
            var filtered = new double[v];
            selector.Filter(f, filtered);
            for (int t = 0; t < v; t++)
            {
                Assert.True((kept[(r * v) + t] == 1) == (filtered[t] > double.NegativeInfinity), $"row {r} token {t} (float path)");
            }
        }
    }

    [Fact]
    public void The_mask_id_is_never_chosen()
    {
        const int v = 9, mask = 4;
        var logits = new float[v];
        logits[mask] = 1e30f; // the model loves the mask
        logits[2] = -50;
        foreach (var options in new[]
        {
            TokenSelectionOptions.GreedyDecoding, TokenSelectionOptions.Default, new TokenSelectionOptions { TopK = 1 },
            new TokenSelectionOptions { TopP = 0.01 }, new TokenSelectionOptions { TopP = 0.5, TopK = 2, Temperature = 0.1 },
        })
        {
            var sel = new TokenSelector(v, mask, options);
            for (int i = 0; i < 200; i++)
            {
                Assert.NotEqual(mask, sel.Select(logits, new DrawKey(1, 0, i, 3)));
            }
        }

        // Everything else −∞: still never the mask; all NaN: a clear error.
        var dead = Enumerable.Repeat(float.NegativeInfinity, v).ToArray();
        dead[mask] = 0;
        Assert.Throws<InvalidOperationException>(() => new TokenSelector(v, mask, TokenSelectionOptions.Default).Select(dead, default));
        var nan = Enumerable.Repeat(float.NaN, v).ToArray();
        Assert.Throws<InvalidOperationException>(() => new TokenSelector(v, mask, TokenSelectionOptions.GreedyDecoding).Select(nan, default));
    }

    [Fact]
    public void Gumbel_max_samples_the_softmax_and_filters_restrict_support()
    {
        const int v = 5, mask = 0;
        float[] logits = [0, 1, 0.5f, -1, 0.2f];
        var sel = new TokenSelector(v, mask, TokenSelectionOptions.Default);
        var counts = new int[v];
        const int n = 40_000;
        for (int i = 0; i < n; i++)
        {
            counts[sel.Select(logits, new DrawKey(3, 1, i, 0))]++;
        }

        double z = Enumerable.Range(1, v - 1).Sum(t => Math.Exp(logits[t]));
        for (int t = 1; t < v; t++)
        {
            Assert.InRange(counts[t] / (double)n, (Math.Exp(logits[t]) / z) - 0.01, (Math.Exp(logits[t]) / z) + 0.01);
        }

        var topK = new TokenSelector(v, mask, new TokenSelectionOptions { TopK = 2 });
        var cold = new TokenSelector(v, mask, new TokenSelectionOptions { Temperature = 1e-3 });
        for (int i = 0; i < 2000; i++)
        {
            Assert.Contains(topK.Select(logits, new DrawKey(3, 1, i, 0)), new[] { 1, 2 });
            Assert.Equal(1, cold.Select(logits, new DrawKey(3, 1, i, 0)));
        }

        Assert.Equal(1, new TokenSelector(v, mask, TokenSelectionOptions.GreedyDecoding).Select(logits, default));
    }

    [Fact]
    public void Bad_options_are_rejected_with_clear_messages()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>("Temperature",
            () => new TokenSelector(5, 0, new TokenSelectionOptions { Temperature = 0 }));
        Assert.Contains("Greedy", ex.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>("Temperature", () => new TokenSelectionOptions { Temperature = -1 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>("TopP", () => new TokenSelectionOptions { TopP = 0 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>("TopP", () => new TokenSelectionOptions { TopP = 1.01 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>("TopK", () => new TokenSelectionOptions { TopK = -1 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>("maskTokenId", () => new TokenSelector(5, 5, TokenSelectionOptions.Default));
        Assert.Throws<ArgumentException>("logits", () => new TokenSelector(5, 0, TokenSelectionOptions.Default).Select(new float[4], default));
    }
}
