using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;
using Xunit.Abstractions;

namespace EsoLM.Tests.Modeling;

/// <summary>The analytic backward pass against central finite differences, for every parameter tensor.</summary>
public sealed class GradientCheckTests(ITestOutputHelper output)
{
    private static ModelConfig Config => new()
    {
        VocabSize = 11,
        MaskTokenId = 3,
        HiddenSize = 8,
        Heads = 2,
        Layers = 2,
        CondDim = 4,
        MlpRatio = 2,
        ContextLength = 8,
        FrequencyEmbeddingSize = 6,
    };

    public static TheoryData<string, EsoLmVariant, float> Cases => new()
    {
        { "diffusion", EsoLmVariant.B, 0f },
        { "diffusion", EsoLmVariant.A, 0f },
        { "sequential", EsoLmVariant.B, 0f },
        { "sequential", EsoLmVariant.A, 0f },
        { "mixed", EsoLmVariant.B, 0.3f },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Analytic_gradients_match_finite_differences(string mode, EsoLmVariant variant, float dropout)
    {
        var config = Config;
        var parameters = ModelParameters.CreateRandom(config, 42, 0.5f);
        var model = new DiffusionTransformer(parameters, new ComputeContext(1));
        var graph = new TrainingGraph(model) { DropoutRate = dropout, DropoutSeed = 99 };
        var batch = BuildBatch(mode, variant, new Random(7));
        var grads = ModelParameters.CreateZero(config);
        graph.RunHost(batch, grads);

        var rng = new Random(3);
        int checkedCount = 0;
        double worst = 0;
        foreach (var t in parameters.Tensors)
        {
            var g = grads[t.Name].Data;
            // The largest-gradient entries plus a few random ones.
            var idx = Enumerable.Range(0, g.Length).OrderByDescending(i => Math.Abs(g[i])).Take(3)
                .Concat(Enumerable.Range(0, 3).Select(_ => rng.Next(g.Length))).Distinct();
            foreach (int i in idx)
            {
                float saved = t.Data[i];
                const float h = 1e-2f;
                t.Data[i] = saved + h;
                model.RefreshFromParameters();
                double up = graph.RunHost(batch, null).Loss;
                t.Data[i] = saved - h;
                model.RefreshFromParameters();
                double down = graph.RunHost(batch, null).Loss;
                t.Data[i] = saved;
                model.RefreshFromParameters();
                double fd = (up - down) / (2 * h);
                double err = Math.Abs(fd - g[i]);
                worst = Math.Max(worst, err / (1e-2 + Math.Abs(fd)));
                Assert.True(err <= 2e-3 + (2e-2 * Math.Abs(fd)), $"{mode}/{variant}: {t.Name}[{i}] analytic {g[i]:G6} vs finite difference {fd:G6}");
                checkedCount++;
            }
        }

        output.WriteLine($"{mode}/{variant}: {checkedCount} entries over {parameters.Tensors.Count} tensors, worst scaled error {worst:G3}");
        Assert.True(checkedCount >= 3 * parameters.Tensors.Count);
    }

    [Fact]
    public void Gradient_of_a_wrong_model_would_be_caught()
    {
        // Guard against a check that cannot fail: a deliberately wrong gradient (sign flipped) must violate the tolerance.
        var config = Config;
        var parameters = ModelParameters.CreateRandom(config, 42, 0.5f);
        var model = new DiffusionTransformer(parameters, new ComputeContext(1));
        var graph = new TrainingGraph(model);
        var batch = BuildBatch("diffusion", EsoLmVariant.B, new Random(7));
        var grads = ModelParameters.CreateZero(config);
        graph.RunHost(batch, grads);
        var t = parameters["blocks.1.attn_qkv.weight"];
        var g = grads[t.Name].Data;
        int i = Enumerable.Range(0, g.Length).MaxBy(j => Math.Abs(g[j]));
        float saved = t.Data[i];
        t.Data[i] = saved + 1e-2f;
        model.RefreshFromParameters();
        double up = graph.RunHost(batch, null).Loss;
        t.Data[i] = saved - 1e-2f;
        model.RefreshFromParameters();
        double down = graph.RunHost(batch, null).Loss;
        double fd = (up - down) / 2e-2;
        Assert.True(Math.Abs(fd) > 1e-2, "the chosen entry must matter");
        Assert.False(Math.Abs(fd + g[i]) <= 2e-3 + (2e-2 * Math.Abs(fd)), "a sign-flipped gradient passed the tolerance");
    }

    internal static TrainingBatch BuildBatch(string mode, EsoLmVariant variant, Random rng)
    {
        var config = Config;
        int v = config.VocabSize, mask = config.MaskTokenId;
        var batch = new TrainingBatch();
        int NonMask() => (rng.Next(v - 1) + mask + 1) % v;
        if (mode is "diffusion" or "mixed")
        {
            for (int s = 0; s < 2; s++)
            {
                int length = 6, clean = 2 + s;
                var positions = Enumerable.Range(0, length).OrderBy(_ => rng.Next()).ToArray();
                var targets = Enumerable.Range(0, length).Select(_ => NonMask()).ToArray();
                var tokens = Enumerable.Range(0, length).Select(i => i < clean ? targets[i] : mask).ToArray();
                var weights = Enumerable.Range(0, length).Select(i => i < clean ? 0f : 0.3f + (float)rng.NextDouble()).ToArray();
                var ranges = new KeyRange[length];
                MaskRules.Diffusion(variant, length, clean, ranges);
                batch.Add(tokens, positions, ranges, targets, weights);
            }
        }

        if (mode is "sequential" or "mixed")
        {
            int length = 5, clean = 2;
            var positions = Enumerable.Range(0, length).OrderBy(_ => rng.Next()).ToArray();
            var x = Enumerable.Range(0, length).Select(_ => NonMask()).ToArray();
            var tokens = Enumerable.Range(0, 2 * length).Select(i => i < length ? (i < clean ? x[i] : mask) : x[i - length]).ToArray();
            var pos2 = positions.Concat(positions).ToArray();
            var targets = x.Concat(x).ToArray();
            var weights = Enumerable.Range(0, 2 * length).Select(i => i >= clean && i < length ? 0.5f : 0f).ToArray();
            var ranges = new KeyRange[2 * length];
            MaskRules.Sequential(variant, length, clean, ranges);
            batch.Add(tokens, pos2, ranges, targets, weights);
        }

        return batch;
    }
}
