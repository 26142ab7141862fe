using EsoLM.Backends;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace EsoLM.TorchSharp.Tests;

/// <summary>
/// The CUDA path's "no host round trip inside the layer loop" and "no CPU-only tensor" properties, checked without a GPU:
/// the device passes run on PyTorch's <c>meta</c> device, whose tensors have shapes but no data. Any read of device memory
/// from the host (<c>.item()</c>, <c>.cpu()</c>, a copy to an array, a shape that depends on values) fails there, and so
/// does mixing in a tensor created on the CPU. The passes are the ones the real backend runs on <c>cpu</c> and <c>cuda</c>.
/// </summary>
public sealed class HostRoundTripTests
{
    private static readonly Device Meta = new(DeviceType.META);

    [Fact]
    public void The_meta_device_rejects_host_reads_so_the_checks_below_can_fail()
    {
        using var scope = NewDisposeScope();
        var t = ones([3], ScalarType.Float32, Meta);
        Assert.ThrowsAny<Exception>(() => TorchTensors.ToArray(t));
        Assert.ThrowsAny<Exception>(() => t.sum().item<float>());
        Assert.ThrowsAny<Exception>(() => (t + ones([3], ScalarType.Float32, CPU)).sum().item<float>());
    }

    [Theory]
    [InlineData(TorchPrecision.Fp32)]
    [InlineData(TorchPrecision.Bf16)]
    public void Inference_forward_runs_on_the_meta_device_in_every_mode(TorchPrecision precision)
    {
        var parameters = TorchTestSupport.RandomModel(31);
        var cfg = parameters.Config;
        var backend = new TorchBackend(TorchTestSupport.CpuOptions with { Precision = precision });
        using var net = new TorchNetwork(backend, parameters, Meta);
        const int L = 12;
        var rng = new Random(4);
        var (tokens, positions, clean) = TorchTestSupport.RandomRows(rng, cfg, 2, L);
        using var scope = NewDisposeScope();

        // Diffusion mode: two sequences, all rows returned as log-probabilities.
        var caches = new[] { net.CreateCache(2 * L), net.CreateCache(2 * L) };
        var ranges = new KeyRange[L];
        var fb = new ForwardBatch();
        for (int b = 0; b < 2; b++)
        {
            MaskRules.Diffusion(EsoLmVariant.B, L, clean[b], ranges);
            fb.Add(caches[b], 0, tokens.AsSpan(b * L, L), positions.AsSpan(b * L, L), ranges, 0, L);
        }

        var logp = net.ForwardOnDevice(fb, ForwardOutput.LogProbabilities)!;
        Assert.Equal(DeviceType.META, logp.device_type);
        Assert.Equal(new long[] { 2 * L, cfg.VocabSize }, logp.shape);

        // Cached-window mode: windows of different lengths at later slots of the same caches (padding, cache writes and
        // reads at generation-order slots), in the reverse slot order (the gather path), only some rows returned.
        var decode = new ForwardBatch();
        decode.Add(caches[1], L, tokens.AsSpan(0, 2), positions.AsSpan(0, 2), [KeyRange.Of(0, L + 1), KeyRange.Of(0, L + 2)], 1, 1);
        decode.Add(caches[0], L, tokens.AsSpan(L, 3), positions.AsSpan(L, 3), [KeyRange.Of(0, L + 1), KeyRange.Of(0, L + 2), KeyRange.Of(0, L + 3)], 0, 3);
        var logits = net.ForwardOnDevice(decode, ForwardOutput.Logits)!;
        Assert.Equal(DeviceType.META, logits.device_type);
        Assert.Equal(new long[] { 4, cfg.VocabSize }, logits.shape);

        // The KV caches live on the device too.
        var arena = ((TorchKvCache)caches[0]).Arena;
        Assert.Equal(DeviceType.META, arena.Keys(0).device_type);
    }

    [Fact]
    public void Training_pass_with_dropout_and_backward_runs_on_the_meta_device()
    {
        var parameters = TorchTestSupport.RandomModel(32);
        var cfg = parameters.Config;
        using var net = new TorchNetwork(TorchTestSupport.Torch, parameters, Meta);
        var graph = new TorchTrainingGraph(net) { DropoutRate = 0.1f, DropoutSeed = 7 };
        var grads = (TorchGradients)net.CreateGradients();
        const int count = 2, nmax = 10;
        var rng = new Random(5);
        var tok = new long[count * nmax];
        var pos = new long[count * nmax];
        var ranges = new int[count * nmax * 4];
        var rowOf = new int[count * nmax];
        var lossIdx = new List<long>();
        var targets = new List<long>();
        var weights = new List<float>();
        for (int s = 0; s < count; s++)
        {
            int n = s == 0 ? nmax : nmax - 3; // the second sequence is padded
            for (int i = 0; i < nmax; i++)
            {
                int pr = (s * nmax) + i;
                if (i >= n)
                {
                    rowOf[pr] = -1;
                    ranges[4 * pr] = i;
                    ranges[(4 * pr) + 1] = i + 1;
                    continue;
                }

                rowOf[pr] = (s * nmax) + i;
                tok[pr] = TorchTestSupport.NonMask(rng, cfg);
                pos[pr] = i;
                ranges[(4 * pr) + 1] = i + 1;
                lossIdx.Add(pr);
                targets.Add(TorchTestSupport.NonMask(rng, cfg));
                weights.Add(0.5f);
            }
        }

        using var scope = NewDisposeScope();
        var nll = graph.LossOnDevice(net.Model, grads, count, nmax, tok, pos, ranges, rowOf, lossIdx, targets, weights);
        Assert.Equal(DeviceType.META, nll.device_type);
        Assert.Equal(new long[] { lossIdx.Count }, nll.shape);
        Assert.All(grads.Values, g => Assert.Equal(DeviceType.META, g.device_type));
    }

    [Fact]
    public void Cached_bf16_weights_follow_parameter_changes()
    {
        var first = TorchTestSupport.RandomModel(41);
        var second = TorchTestSupport.RandomModel(42);
        var backend = new TorchBackend(TorchTestSupport.CpuOptions with { Precision = TorchPrecision.Bf16 });
        using var net = (TorchNetwork)backend.Load(first);
        using var fresh = (TorchNetwork)backend.Load(second);
        var cfg = first.Config;
        const int L = 8;
        var (tokens, positions, clean) = TorchTestSupport.RandomRows(new Random(6), cfg, 1, L);
        var before = TorchTestSupport.Diffusion(net, EsoLmVariant.B, 1, L, tokens, positions, clean); // fills the bf16 cache with the first weights
        net.LoadParameters(second);
        var after = TorchTestSupport.Diffusion(net, EsoLmVariant.B, 1, L, tokens, positions, clean);
        var expected = TorchTestSupport.Diffusion(fresh, EsoLmVariant.B, 1, L, tokens, positions, clean);
        Assert.Equal(expected, after);
        Assert.NotEqual(before, after);
    }
}
