using EsoLM.Masks;
using EsoLM.Sampling;
using TorchSharp;
using static EsoLM.TorchSharp.Tests.TorchTestSupport;

namespace EsoLM.TorchSharp.Tests;

/// <summary>
/// Sampling leaves no live torch tensors behind (issue 11: an L = 1024, batch 16 torch:cpu decode grew to 23 GB because
/// every pass left tensors for the finalizer). Counts TorchSharp's live-tensor counter, not time or memory.
/// </summary>
[Collection(TensorCountGroup.Name)]
public sealed class TensorLifetimeTests
{
    [Theory]
    [InlineData(EsoLmVariant.B, false)]
    [InlineData(EsoLmVariant.B, true)]
    [InlineData(EsoLmVariant.A, false)]
    public void Sampling_passes_leave_no_live_tensors(EsoLmVariant variant, bool benchPlan)
    {
        const int length = 16;
        var p = RandomModel(41, context: length, std: 0.3f);
        using var net = (TorchNetwork)Torch.Load(p);

        // benchPlan: the `bench sample` esolm_b cell (α_eval = 1, one token per pass, top-p), where issue 11 was seen.
        var options = benchPlan
            ? new EsoLmSamplerOptions
            {
                Variant = variant, Length = length, AlphaEval = 1, FixedPlan = new StepPlan(Enumerable.Repeat(1, length).ToArray(), length),
                Selection = new TokenSelectionOptions { TopP = 0.9 },
            }
            : new EsoLmSamplerOptions { Variant = variant, AlphaEval = 0.5, Steps = 6 };
        var sampler = new EsoLmSampler(net, options);
        var requests = Enumerable.Range(0, 4).Select(i => new SamplingRequest { SequenceId = i, Seed = 7 }).ToArray();

        // Warm-up: the cached conditioning, the KV arena and its growth are created once and kept by the network.
        sampler.Generate(requests);
        long before = torch.Tensor.TotalCount;
        int passes = 0;
        for (int run = 0; run < 3; run++)
        {
            passes += sampler.Generate(requests).ForwardPasses;
        }

        long after = torch.Tensor.TotalCount;
        Assert.True(passes > 0);
        Assert.True(after - before <= 0, $"{after - before} torch tensors are still alive after {passes} sampling passes (live before {before}, after {after}).");
    }

    [Fact]
    public void Released_cache_slots_are_reused_lowest_first_so_a_batch_reads_one_view()
    {
        var p = RandomModel(43, context: 16);
        using var net = (TorchNetwork)Torch.Load(p);
        var first = Enumerable.Range(0, 3).Select(_ => (TorchKvCache)net.CreateCache(16)).ToArray();
        foreach (var c in first)
        {
            c.Dispose();
        }

        // Released in order 0, 1, 2; a last-in-first-out pool hands them back as 2, 1, 0, which forced a forward to gather
        // every layer's whole cache each pass (issue 11).
        var again = Enumerable.Range(0, 4).Select(_ => (TorchKvCache)net.CreateCache(16)).ToArray();
        Assert.Equal([0, 1, 2, 3], again.Select(c => c.Slot));
        foreach (var c in again)
        {
            c.Dispose();
        }
    }
}

/// <summary>Tests that read TorchSharp's process-wide tensor counter run alone (no other torch test allocates meanwhile).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TensorCountGroup
{
    /// <summary>The collection name.</summary>
    public const string Name = "torch tensor count";
}
