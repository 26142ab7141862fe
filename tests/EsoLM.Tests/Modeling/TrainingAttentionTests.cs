using System.Runtime.Intrinsics;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;
using Xunit.Abstractions;

namespace EsoLM.Tests.Modeling;

/// <summary>
/// The blocked attention backward (<see cref="TrainingAttention.BackwardBlocked"/>) against the plain small-GEMM path
/// on the Eso-LM masks and on random key ranges, and against central finite differences of an independent
/// double-precision forward.
/// </summary>
public sealed class TrainingAttentionTests(ITestOutputHelper output)
{
    public static TheoryData<string, int, int> MaskCases()
    {
        var data = new TheoryData<string, int, int>();
        foreach (string mask in new[] { "diffusion-A", "diffusion-B", "sequential-A", "sequential-B", "mdlm", "random" })
        {
            foreach (var (n, d) in new[] { (128, 64), (37, 64), (70, 32), (16, 16) })
            {
                data.Add(mask, n, d);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(MaskCases))]
    public void Blocked_backward_matches_the_plain_path(string mask, int n, int headDim)
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            output.WriteLine("Vector512 is not accelerated on this CPU: the blocked path is never used here.");
            return;
        }

        var rng = new Random(HashCode.Combine(mask, n, headDim) & 0x7fffffff);
        const int heads = 3;
        int hidden = heads * headDim;

        // Three sequences in one batch, so row offsets and neighbouring sequences are exercised.
        int[] lengths = mask.StartsWith("sequential", StringComparison.Ordinal) ? [2 * n, n * 2, 2 * (n / 2)] : [n, n + 1, Math.Max(1, n - 7)];
        int rows = lengths.Sum();
        var visible = new KeyRange[rows];
        int start = 0;
        foreach (int len in lengths)
        {
            FillMask(mask, len, rng, visible.AsSpan(start, len));
            start += len;
        }

        var qkv = RandomArray(rows * 3 * hidden, rng, 1.5f);
        var dOut = RandomArray(rows * hidden, rng, 1f);
        var att = new float[rows * hidden];
        float scale = 1f / MathF.Sqrt(headDim);
        var plain = RandomArray(rows * 3 * hidden, rng, 0.5f); // accumulation target: both paths must add, not overwrite
        var fast = (float[])plain.Clone();
        var initial = (float[])plain.Clone();
        var ctx1 = new ComputeContext(1);
        start = 0;
        foreach (int len in lengths)
        {
            var vis = visible.AsSpan(start, len);
            for (int h = 0; h < heads; h++)
            {
                TrainingAttention.Forward(ctx1.Simd, qkv, start, len, h, hidden, headDim, vis, scale, att);
            }

            for (int h = 0; h < heads; h++)
            {
                TrainingAttention.BackwardPlain(ctx1, qkv, att, dOut, start, len, h, hidden, headDim, vis, scale, plain);
                TrainingAttention.BackwardBlocked(qkv, att, dOut, start, len, h, hidden, headDim, vis, scale, fast);
            }

            start += len;
        }

        double maxAbs = plain.Max(MathF.Abs), worst = 0;
        for (int i = 0; i < plain.Length; i++)
        {
            double err = Math.Abs(plain[i] - fast[i]);
            worst = Math.Max(worst, err / maxAbs);
            Assert.True(err <= (1e-5 * maxAbs) + (1e-5 * Math.Abs(plain[i])),
                $"{mask} n={n} d={headDim}: dQkv[{i}] plain {plain[i]:G9} vs blocked {fast[i]:G9} (max |plain| {maxAbs:G4})");
        }

        int differing = Enumerable.Range(0, plain.Length).Count(i => plain[i] != fast[i]);
        output.WriteLine($"{mask} n={n} d={headDim}: worst error relative to max |dQkv| {worst:G3}, {differing} of {plain.Length} entries differ in the last bits, max |gradient| {Enumerable.Range(0, plain.Length).Max(i => Math.Abs(plain[i] - initial[i])):G3}");
    }

    [Theory]
    [InlineData("diffusion-B", 64)]
    [InlineData("sequential-A", 40)]
    [InlineData("random", 50)]
    public void Blocked_backward_matches_finite_differences_of_a_double_forward(string mask, int n)
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            output.WriteLine("Vector512 is not accelerated on this CPU: the blocked path is never used here.");
            return;
        }

        const int heads = 2, headDim = 16, hidden = heads * headDim;
        var rng = new Random(11 + n);
        int rows = mask.StartsWith("sequential", StringComparison.Ordinal) ? 2 * n : n;
        var visible = new KeyRange[rows];
        FillMask(mask, rows, rng, visible);
        var qkv = RandomArray(rows * 3 * hidden, rng, 1.5f);
        var g = RandomArray(rows * hidden, rng, 1f);
        float scale = 1f / MathF.Sqrt(headDim);

        // Loss = Σ g ⊙ O(qkv), with O from the double-precision reference forward.
        var o = ReferenceForward(qkv, rows, heads, headDim, visible, scale);
        var att = o.Select(x => (float)x).ToArray();
        var grad = new float[qkv.Length];
        for (int h = 0; h < heads; h++)
        {
            TrainingAttention.BackwardBlocked(qkv, att, g, 0, rows, h, hidden, headDim, visible, scale, grad);
        }

        double Loss()
        {
            var x = ReferenceForward(qkv, rows, heads, headDim, visible, scale);
            double sum = 0;
            for (int i = 0; i < x.Length; i++)
            {
                sum += g[i] * x[i];
            }

            return sum;
        }

        // The largest analytic entries plus random ones, over q, k and v columns.
        var entries = Enumerable.Range(0, grad.Length).OrderByDescending(i => Math.Abs(grad[i])).Take(20)
            .Concat(Enumerable.Range(0, 40).Select(_ => rng.Next(grad.Length))).Distinct().ToArray();
        double worst = 0;
        foreach (int i in entries)
        {
            float saved = qkv[i];
            const float step = 1e-2f;
            qkv[i] = saved + step;
            double up = Loss();
            qkv[i] = saved - step;
            double down = Loss();
            qkv[i] = saved;
            double fd = (up - down) / (2 * step);
            double err = Math.Abs(fd - grad[i]);
            worst = Math.Max(worst, err / (1e-3 + Math.Abs(fd)));
            Assert.True(err <= 1e-3 + (1e-2 * Math.Abs(fd)), $"{mask}: dQkv[{i}] blocked {grad[i]:G6} vs finite difference {fd:G6}");
        }

        output.WriteLine($"{mask}: {entries.Length} entries, worst scaled error {worst:G3}");
        Assert.Contains(entries, i => Math.Abs(grad[i]) > 1e-2);
    }

    [Fact]
    public void Blocked_backward_of_a_wrong_gradient_would_be_caught()
    {
        // The comparison above must be able to fail: a perturbed dOut changes the result well beyond the tolerance.
        if (!Vector512.IsHardwareAccelerated)
        {
            return;
        }

        const int n = 48, headDim = 16, hidden = headDim;
        var rng = new Random(5);
        var visible = new KeyRange[n];
        MaskRules.Diffusion(EsoLmVariant.B, n, 10, visible);
        var qkv = RandomArray(n * 3 * hidden, rng, 1.5f);
        var dOut = RandomArray(n * hidden, rng, 1f);
        var att = new float[n * hidden];
        float scale = 0.25f;
        TrainingAttention.Forward(SimdLevel.Vector512, qkv, 0, n, 0, hidden, headDim, visible, scale, att);
        var plain = new float[qkv.Length];
        var fast = new float[qkv.Length];
        TrainingAttention.BackwardPlain(new ComputeContext(1), qkv, att, dOut, 0, n, 0, hidden, headDim, visible, scale, plain);
        dOut[7] += 0.05f;
        TrainingAttention.BackwardBlocked(qkv, att, dOut, 0, n, 0, hidden, headDim, visible, scale, fast);
        double maxAbs = plain.Max(MathF.Abs);
        Assert.Contains(Enumerable.Range(0, plain.Length), i => Math.Abs(plain[i] - fast[i]) > 1e-4 * maxAbs);
    }

    [Fact]
    public void Training_gradients_with_the_blocked_kernel_are_identical_on_any_thread_count()
    {
        var config = new ModelConfig
        {
            VocabSize = 13,
            MaskTokenId = 3,
            HiddenSize = 64,
            Heads = 2,
            Layers = 1,
            CondDim = 8,
            MlpRatio = 2,
            ContextLength = 40,
            FrequencyEmbeddingSize = 8,
        };
        Assert.True(!Vector512.IsHardwareAccelerated || TrainingAttention.UseBlocked(SimdLevel.Vector512, 40, config.HeadDim));
        var rng = new Random(3);
        var batch = new TrainingBatch();
        for (int s = 0; s < 4; s++)
        {
            int length = 40, clean = 5 + (3 * s);
            bool sequential = s % 2 == 1;
            int rows = sequential ? 2 * length : length;
            var positions = Enumerable.Range(0, length).OrderBy(_ => rng.Next()).ToArray();
            var ranges = new KeyRange[rows];
            if (sequential)
            {
                MaskRules.Sequential(EsoLmVariant.A, length, clean, ranges);
                positions = positions.Concat(positions).ToArray();
            }
            else
            {
                MaskRules.Diffusion(EsoLmVariant.B, length, clean, ranges);
            }

            var targets = Enumerable.Range(0, rows).Select(_ => 4 + rng.Next(9)).ToArray();
            var tokens = Enumerable.Range(0, rows).Select(i => i % length < clean ? targets[i] : config.MaskTokenId).ToArray();
            var weights = Enumerable.Range(0, rows).Select(i => i % length < clean ? 0f : 1f).ToArray();
            batch.Add(tokens, positions, ranges, targets, weights);
        }

        var parameters = ModelParameters.CreateRandom(config, 9, 0.5f);
        ModelParameters Gradients(int threads)
        {
            var graph = new TrainingGraph(new DiffusionTransformer(parameters, new ComputeContext(threads)));
            var grads = ModelParameters.CreateZero(config);
            graph.RunHost(batch, grads);
            return grads;
        }

        var one = Gradients(1);
        foreach (int threads in new[] { 2, 3 })
        {
            var many = Gradients(threads);
            foreach (var t in one.Tensors)
            {
                Assert.True(t.Data.AsSpan().SequenceEqual(many[t.Name].Data), $"{t.Name} differs between 1 and {threads} threads");
            }
        }
    }

    private static void FillMask(string mask, int rows, Random rng, Span<KeyRange> ranges)
    {
        switch (mask)
        {
            case "diffusion-A":
                MaskRules.Diffusion(EsoLmVariant.A, rows, rng.Next(rows + 1), ranges);
                break;
            case "diffusion-B":
                MaskRules.Diffusion(EsoLmVariant.B, rows, rng.Next(rows + 1), ranges);
                break;
            case "mdlm":
                MaskRules.Diffusion(EsoLmVariant.Mdlm, rows, rng.Next(rows + 1), ranges);
                break;
            case "sequential-A":
                MaskRules.Sequential(EsoLmVariant.A, rows / 2, rng.Next((rows / 2) + 1), ranges);
                break;
            case "sequential-B":
                MaskRules.Sequential(EsoLmVariant.B, rows / 2, rng.Next((rows / 2) + 1), ranges);
                break;
            default:
                for (int r = 0; r < rows; r++)
                {
                    // Two disjoint ranges in either order, each possibly empty (some rows see nothing).
                    var cuts = Enumerable.Range(0, 4).Select(_ => rng.Next(rows + 1)).Order().ToArray();
                    int kind = rng.Next(6);
                    ranges[r] = kind switch
                    {
                        0 => default,
                        1 => KeyRange.Of(cuts[0], cuts[3]),
                        2 => new KeyRange(cuts[2], cuts[3], cuts[0], cuts[1]),
                        _ => new KeyRange(cuts[0], cuts[1], cuts[2], cuts[3]),
                    };
                }

                break;
        }
    }

    /// <summary>Plain double-precision masked attention forward of every head: O[rows, heads·headDim].</summary>
    private static double[] ReferenceForward(float[] qkv, int rows, int heads, int headDim, KeyRange[] visible, float scale)
    {
        int hidden = heads * headDim, stride = 3 * hidden;
        var o = new double[rows * hidden];
        var w = new double[rows];
        for (int h = 0; h < heads; h++)
        {
            for (int i = 0; i < rows; i++)
            {
                var vr = visible[i];
                if (vr.Count == 0)
                {
                    continue;
                }

                double max = double.NegativeInfinity;
                for (int j = 0; j < rows; j++)
                {
                    if (!vr.Contains(j))
                    {
                        continue;
                    }

                    double s = 0;
                    for (int c = 0; c < headDim; c++)
                    {
                        s += (double)qkv[(i * stride) + (h * headDim) + c] * qkv[(j * stride) + hidden + (h * headDim) + c];
                    }

                    w[j] = s * scale;
                    max = Math.Max(max, w[j]);
                }

                double sum = 0;
                for (int j = 0; j < rows; j++)
                {
                    if (vr.Contains(j))
                    {
                        w[j] = Math.Exp(w[j] - max);
                        sum += w[j];
                    }
                }

                for (int j = 0; j < rows; j++)
                {
                    if (vr.Contains(j))
                    {
                        for (int c = 0; c < headDim; c++)
                        {
                            o[(i * hidden) + (h * headDim) + c] += w[j] / sum * qkv[(j * stride) + (2 * hidden) + (h * headDim) + c];
                        }
                    }
                }
            }
        }

        return o;
    }

    private static float[] RandomArray(int length, Random rng, float amplitude) =>
        Enumerable.Range(0, length).Select(_ => (float)((rng.NextDouble() * 2) - 1) * amplitude).ToArray();
}
