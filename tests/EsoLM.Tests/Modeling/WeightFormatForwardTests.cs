using EsoLM.Backends.Cpu;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;
using Xunit;

namespace EsoLM.Tests.Modeling;

/// <summary>
/// A network with bf16 / int8 packed weights must compute exactly what an fp32 network computes from the rounded
/// matrices (rounded here with the formats' definitions, independently of the packing code), and stay close to fp32.
/// </summary>
public sealed class WeightFormatForwardTests
{
    private static readonly string[] Matrices = ["attn_qkv.weight", "attn_out.weight", "mlp.0.weight", "mlp.2.weight"];

    private static ModelConfig Config() => CachedForwardTests.TinyConfig(vocab: 70, mask: 3, length: 16) with { HiddenSize = 64, Heads = 4 };

    [Theory]
    [InlineData(WeightFormat.BFloat16, 1)]
    [InlineData(WeightFormat.BFloat16, 2)]
    [InlineData(WeightFormat.Int8, 1)]
    [InlineData(WeightFormat.Int8, 2)]
    public void Low_precision_network_equals_fp32_network_of_the_rounded_matrices(WeightFormat format, int threads)
    {
        var config = Config();
        var parameters = ModelParameters.CreateRandom(config, 9, 0.3f);
        var rounded = parameters.Clone();
        foreach (var t in rounded.Tensors)
        {
            bool matrix = t.Name == "output_layer.linear.weight"
                || (t.Name.StartsWith("blocks.", StringComparison.Ordinal) && Matrices.Any(m => t.Name.EndsWith(m, StringComparison.Ordinal)));
            if (matrix)
            {
                Round(t.Data, t.Shape[1], format);
            }
        }

        var low = Net(parameters, new ComputeContext(threads), format);
        var exactOfRounded = Net(rounded, new ComputeContext(threads), WeightFormat.Float32);
        var fp32 = Net(parameters, new ComputeContext(threads), WeightFormat.Float32);
        Assert.Equal(format, low.Weights);
        Assert.Equal(CpuBackend.DataTypeName(format), low.Backend.Description.DataType);

        var a = Logits(low);
        var b = Logits(exactOfRounded);
        var c = Logits(fp32);
        double worst = 0, diff = 0, norm = 0;
        for (int i = 0; i < a.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(a[i] - b[i]));
            diff += (a[i] - c[i]) * (double)(a[i] - c[i]);
            norm += c[i] * (double)c[i];
        }

        Assert.True(worst < 2e-4, $"{format}: max |low − fp32(rounded)| = {worst}");
        double relative = Math.Sqrt(diff / norm);
        Assert.InRange(relative, 1e-6, format == WeightFormat.BFloat16 ? 0.02 : 0.05);
    }

    [Fact]
    public void Int8A16_network_stays_within_the_activation_rounding_of_the_int8_network()
    {
        // Same int8 weights and scales; only the 16-bit rounding of each product's input rows differs. The bits must not
        // depend on the thread count (exact integer sums, one rounding per output).
        var parameters = ModelParameters.CreateRandom(Config(), 9, 0.3f);
        var int8 = Logits(Net(parameters, new ComputeContext(1), WeightFormat.Int8));
        var one = Logits(Net(parameters, new ComputeContext(1), WeightFormat.Int8A16));
        var two = Logits(Net(parameters, new ComputeContext(2), WeightFormat.Int8A16));
        Assert.Equal(one, two);
        double diff = 0, norm = 0;
        for (int i = 0; i < one.Length; i++)
        {
            diff += (one[i] - int8[i]) * (double)(one[i] - int8[i]);
            norm += int8[i] * (double)int8[i];
        }

        Assert.InRange(Math.Sqrt(diff / norm), 1e-9, 1e-3);
    }

    [Fact]
    public void Low_precision_network_holds_fewer_bytes()
    {
        var p = ModelParameters.CreateRandom(Config(), 1);
        long f = Net(p, null, WeightFormat.Float32).PackedWeightBytes;
        long h = Net(p, null, WeightFormat.BFloat16).PackedWeightBytes;
        long q = Net(p, null, WeightFormat.Int8).PackedWeightBytes;
        Assert.Equal(f, 2 * h);
        Assert.True(q < h && q > f / 4, $"{q} between {f / 4} and {h}");
    }

    [Fact]
    public void Low_precision_networks_refuse_optimizer_state()
    {
        var model = Net(ModelParameters.CreateRandom(Config(), 1), null, WeightFormat.BFloat16);
        Assert.Throws<InvalidOperationException>(() => model.CreateTrainingState(new EsoLM.Training.AdamWOptions(), 0.999));
    }

    private static DiffusionTransformer Net(ModelParameters p, ComputeContext? compute, WeightFormat format) =>
        (DiffusionTransformer)new CpuBackend(compute, format).Load(p);

    private static float[] Logits(DiffusionTransformer model)
    {
        var config = model.Config;
        const int batch = 2, length = 16;
        var rng = new Random(4);
        var tokens = new int[batch * length];
        var positions = new int[batch * length];
        for (int i = 0; i < tokens.Length; i++)
        {
            tokens[i] = rng.Next(config.VocabSize);
            positions[i] = i % length;
        }

        var logits = new float[batch * length * config.VocabSize];
        new ModelSession(model, batch, length).Diffusion(EsoLmVariant.B, batch, length, tokens, positions, [5, 9], logits);
        return logits;
    }

    /// <summary>The formats' definitions, written out plainly: bf16 = nearest (ties to even) of the top 16 bits; int8 = round(w / s)·s, s = max|w|/127 per row.</summary>
    private static void Round(float[] data, int cols, WeightFormat format)
    {
        for (int row = 0; row < data.Length / cols; row++)
        {
            var r = data.AsSpan(row * cols, cols);
            if (format == WeightFormat.BFloat16)
            {
                for (int i = 0; i < r.Length; i++)
                {
                    uint bits = BitConverter.SingleToUInt32Bits(r[i]);
                    uint low = bits & 0xFFFF;
                    uint top = bits & 0xFFFF0000u;
                    if (low > 0x8000 || (low == 0x8000 && (top & 0x10000) != 0))
                    {
                        top += 0x10000;
                    }

                    r[i] = BitConverter.UInt32BitsToSingle(top);
                }
            }
            else
            {
                float max = 0;
                foreach (float w in r)
                {
                    max = Math.Max(max, Math.Abs(w));
                }

                float s = max / 127f;
                for (int i = 0; i < r.Length; i++)
                {
                    r[i] = s == 0 ? 0 : (float)Math.Round(r[i] / s, MidpointRounding.ToEven) * s;
                }
            }
        }
    }
}
