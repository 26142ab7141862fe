using System.Text.Json;
using EsoLM.IO;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Tests.Support;
using EsoLM.Diagnostics;

namespace EsoLM.Tests.Sampling;

/// <summary>The reference's cached Eso-LM (B) sampler traces (kv_sampling_B.json) replayed through <see cref="EsoLmSampler"/>.</summary>
public sealed class GoldenTraceTests
{
    private sealed class RecordedNoise(Dictionary<(long Sequence, int Step, int Position), double[]> rows) : IGumbelNoiseSource
    {
        public int Calls { get; private set; }

        public void Fill(DrawKey key, Span<double> noise)
        {
            Calls++;
            rows[(key.SequenceId, key.Step, key.Position)].CopyTo(noise);
        }
    }

    internal static DiffusionTransformer GoldenModel(global::EsoLM.Tensors.ComputeContext? compute = null) => Support.GoldenModel.Create(compute);

    [Theory]
    [InlineData("greedy", false)]
    [InlineData("gumbel", false)]
    [InlineData("greedy", true)]
    [InlineData("gumbel", true)]
    public void Reference_trace_is_reproduced_token_for_token(string name, bool uncached)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(SharedData.Reference, "kv_sampling_B.json")));
        var trace = doc.RootElement.GetProperty(name);
        var model = GoldenModel();
        int v = model.Config.VocabSize;
        int batch = trace.GetProperty("batch").GetInt32();
        var ks = trace.GetProperty("ks").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int d = trace.GetProperty("num_diffusion_tokens").GetInt32();
        var orderT = ReferenceTensor.Get(trace, "order");
        int length = orderT.Shape[1];
        var order = orderT.ToInt32s();
        var final = ReferenceTensor.Get(trace, "final_tokens").ToInt32s();
        bool gumbel = trace.GetProperty("choice").GetString()!.StartsWith("gumbel", StringComparison.Ordinal);

        RecordedNoise? noise = null;
        if (gumbel)
        {
            var rows = new Dictionary<(long, int, int), double[]>();
            foreach (var step in trace.GetProperty("steps").EnumerateArray())
            {
                int index = step.GetProperty("step").GetInt32();
                int s = step.GetProperty("curr_k_start").GetInt32(), e = step.GetProperty("curr_k_end").GetInt32(), k = e - s;
                var g = ReferenceTensor.Get(step, "gumbel_noise").Values;
                for (int b = 0; b < batch; b++)
                {
                    for (int r = 0; r < k; r++)
                    {
                        rows[(b, index, order[(b * length) + s + r])] = g.AsSpan(((b * k) + r) * v, v).ToArray();
                    }
                }
            }

            noise = new RecordedNoise(rows);
        }

        var options = new EsoLmSamplerOptions
        {
            Length = length,
            FixedPlan = new StepPlan(ks, d),
            Selection = gumbel ? TokenSelectionOptions.Default : TokenSelectionOptions.GreedyDecoding,
            NoiseSource = noise,
            UseKvCache = !uncached,
        };
        var sampler = new EsoLmSampler(model, options);
        var requests = Enumerable.Range(0, batch).Select(b => new SamplingRequest
        {
            SequenceId = b,
            Seed = 1234,
            GenerationOrder = order.AsSpan(b * length, length).ToArray(),
        }).ToArray();
        var result = sampler.Generate(requests);
        Assert.Equal(trace.GetProperty("nfe").GetInt32(), result.ForwardPasses);
        for (int b = 0; b < batch; b++)
        {
            Assert.Equal(final.AsSpan(b * length, length).ToArray(), result.Sequences[b].Tokens);
            Assert.Equal(order.AsSpan(b * length, length).ToArray(), result.Sequences[b].GenerationOrder);
            Assert.Equal(d, result.Sequences[b].DiffusionTokens);
        }

        if (noise is not null)
        {
            Assert.Equal(batch * length, noise.Calls);
        }

        // Cached: tokens processed = Σ (prev + k) per row, ≈ 2L.
        if (!uncached)
        {
            long expected = 0;
            for (int i = 0; i < ks.Length; i++)
            {
                expected += (i == 0 ? 0 : ks[i - 1]) + ks[i];
            }

            Assert.Equal(expected * batch, result.TokensProcessed);
        }
    }
}
