using System.Text.Json;
using EsoLM.Masks;
using EsoLM.Tensors;
using EsoLM.Tests.Support;
using EsoLM.Diagnostics;

namespace EsoLM.Tests.Masks;

public sealed class MaskRulesTests
{
    /// <summary>The worked example of the spec, as computed by the reference mask functions.</summary>
    [Theory]
    [InlineData("diffusion_B", EsoLmVariant.B, false)]
    [InlineData("diffusion_A", EsoLmVariant.A, false)]
    [InlineData("sequential_B", EsoLmVariant.B, true)]
    [InlineData("sequential_A", EsoLmVariant.A, true)]
    public void Worked_example_matches_reference_masks(string entry, EsoLmVariant variant, bool sequential)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.Reference, "masks_worked_example.json")));
        var e = doc.RootElement.GetProperty(entry);
        var expected = ReferenceTensor.Parse(e.GetProperty("mask_sorted"), "mask_sorted");
        var labels = e.GetProperty("labels_sorted").EnumerateArray().Select(x => x.GetString()!).ToArray();
        int length = sequential ? labels.Length / 2 : labels.Length;
        int numClean = labels.Take(length).Count(l => !l.Replace("z:", "", StringComparison.Ordinal).StartsWith('M'));
        var ranges = new KeyRange[labels.Length];
        if (sequential)
        {
            MaskRules.Sequential(variant, length, numClean, ranges);
        }
        else
        {
            MaskRules.Diffusion(variant, length, numClean, ranges);
        }

        var dense = MaskRules.ToDense(ranges, labels.Length);
        for (int q = 0; q < labels.Length; q++)
        {
            for (int k = 0; k < labels.Length; k++)
            {
                Assert.True(expected.Values[(q * labels.Length) + k] == (dense[q, k] ? 1 : 0),
                    $"{entry}: query {labels[q]} key {labels[k]} expected {expected.Values[(q * labels.Length) + k]}");
            }
        }
    }

    [Fact]
    public void Rules_agree_with_the_element_definitions_for_all_sizes()
    {
        // The per-element rules of the golden README §1, checked against the range form for every L ≤ 9 and c ≤ L.
        for (int length = 1; length <= 9; length++)
        {
            for (int c = 0; c <= length; c++)
            {
                var diff = new KeyRange[length];
                var seq = new KeyRange[2 * length];
                foreach (var variant in new[] { EsoLmVariant.A, EsoLmVariant.B })
                {
                    MaskRules.Diffusion(variant, length, c, diff);
                    MaskRules.Sequential(variant, length, c, seq);
                    for (int q = 0; q < length; q++)
                    {
                        for (int k = 0; k < length; k++)
                        {
                            bool want = k <= q || (variant == EsoLmVariant.A && q < c && k < c);
                            Assert.Equal(want, diff[q].Contains(k));
                        }
                    }

                    for (int q = 0; q < 2 * length; q++)
                    {
                        for (int k = 0; k < 2 * length; k++)
                        {
                            bool want = q < length
                                ? k == q || (k >= length && k - length < q)
                                : k >= length && k - length <= q - length;
                            want |= variant == EsoLmVariant.A && q >= length && q < length + c && k >= length && k < length + c;
                            Assert.Equal(want, seq[q].Contains(k));
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void Bad_clean_count_is_rejected()
    {
        var ranges = new KeyRange[4];
        Assert.Throws<ArgumentOutOfRangeException>(() => MaskRules.Diffusion(EsoLmVariant.A, 4, 5, ranges));
        Assert.Throws<ArgumentOutOfRangeException>(() => MaskRules.Sequential(EsoLmVariant.B, 4, 1, ranges));
    }
}
