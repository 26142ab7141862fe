using EsoLM.Tests.Support;
using EsoLM.Diagnostics;

namespace EsoLM.Tests.Modeling;

/// <summary>Logits of the reference PyTorch implementation (../shared/golden/reference) are the ground truth.</summary>
public sealed class GoldenParityTests
{
    private static readonly Lazy<ParityReport> Report = new(() => ParityCheck.Run(SharedData.Reference, 1e-4));

    [Theory]
    [InlineData("diffusion_A/sampled/logits")]
    [InlineData("diffusion_A/edge/logits")]
    [InlineData("diffusion_B/sampled/logits")]
    [InlineData("diffusion_B/edge/logits")]
    [InlineData("sequential_A/sampled/logits")]
    [InlineData("sequential_A/edge/logits")]
    [InlineData("sequential_B/sampled/logits")]
    [InlineData("sequential_B/edge/logits")]
    [InlineData("diffusion_B/sampled/log_probs")]
    [InlineData("sequential_A/sampled/log_probs")]
    [InlineData("kv_sampling_B/greedy")]
    [InlineData("kv_sampling_B/gumbel")]
    [InlineData("intermediates_B/conditioning")]
    public void Case_matches_reference_within_1e4(string name)
    {
        var c = Assert.Single(Report.Value.Cases, x => x.Name == name);
        Assert.True(c.Values > 0, $"{name} compared nothing");
        Assert.True(c.Passed, c.Detail);
        Assert.InRange(c.MaxAbsDiff, 0, 1e-4);
    }

    [Fact]
    public void Whole_report_passes_and_covers_every_file()
    {
        var report = Report.Value;
        Assert.True(report.Passed, string.Join("\n", report.Cases.Where(c => !c.Passed).Select(c => c.Detail)));
        foreach (var prefix in new[] { "diffusion_A/", "diffusion_B/", "sequential_A/", "sequential_B/", "kv_sampling_B/", "intermediates_B/" })
        {
            Assert.Contains(report.Cases, c => c.Name.StartsWith(prefix, StringComparison.Ordinal));
        }
    }
}
