using EsoLM.Backends;
using EsoLM.Masks;
using EsoLM.Sampling;
using static EsoLM.TorchSharp.Tests.TorchTestSupport;

namespace EsoLM.TorchSharp.Tests;

/// <summary>Every sampler gives the same tokens on torch as on the managed backend at the same seeds (selection stays on the host).</summary>
public sealed class SamplingParityTests
{
    public static TheoryData<string> Samplers => ["esolm-b", "esolm-a", "esolm-b-topp", "mdlm", "bd3", "ar"];

    [Theory]
    [MemberData(nameof(Samplers))]
    public void Tokens_are_identical_to_the_managed_backend(string which)
    {
        var p = RandomModel(31, context: 16, std: 0.3f);
        var managed = Create(which, Managed.Load(p.Clone()));
        using var net = (TorchNetwork)Torch.Load(p);
        var torch = Create(which, net);
        var requests = Enumerable.Range(0, 4).Select(i => new SamplingRequest
        {
            SequenceId = i,
            Seed = 7,
            Prompt = i % 2 == 0 ? new[] { 1, 2, 3 }[..(i % 3)] : null,
            KnownTokens = i == 3 ? [new KnownToken(9, 4), new KnownToken(12, 8)] : null,
        }).ToArray();
        var expected = managed.Generate(requests);
        var actual = torch.Generate(requests);
        Assert.Equal(expected.ForwardPasses, actual.ForwardPasses);
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(expected.Sequences[i].Tokens, actual.Sequences[i].Tokens);
        }
    }

    private static ISampler Create(string which, INetwork model) => which switch
    {
        "esolm-b" => new EsoLmSampler(model, new EsoLmSamplerOptions { AlphaEval = 0.5, Steps = 6 }),
        "esolm-a" => new EsoLmSampler(model, new EsoLmSamplerOptions { Variant = EsoLmVariant.A, AlphaEval = 0.7, Steps = 5 }),
        "esolm-b-topp" => new EsoLmSampler(model, new EsoLmSamplerOptions { AlphaEval = 1, Steps = 4, Selection = new TokenSelectionOptions { TopP = 0.9 } }),
        "mdlm" => new MdlmSampler(model, new MdlmSamplerOptions { Steps = 8 }),
        "bd3" => new BlockDiffusionSampler(model, new BlockDiffusionSamplerOptions { BlockSize = 4, StepsPerBlock = 3 }),
        "ar" => new AutoregressiveSampler(model, new AutoregressiveSamplerOptions { Selection = new TokenSelectionOptions { TopK = 5, Temperature = 0.8 } }),
        _ => throw new ArgumentOutOfRangeException(nameof(which), which, "unknown sampler"),
    };
}
