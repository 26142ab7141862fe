using System.Runtime.Intrinsics;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Tests.Modeling;
using EsoLM.Training;

namespace EsoLM.Tests.Training;

/// <summary>
/// The parallel, vectorised training paths against the plain loops they replace: AdamW and EMA bit for bit (element-wise,
/// so chunking must not change a bit), the fused re-packing against a fresh pack, the row-parallel LayerNorm forward and
/// GELU bit for bit, the LayerNorm/gate/bias backward against serial loops and across thread counts, and gradient
/// accumulation against one large batch.
/// </summary>
public sealed class TrainingFastPathTests
{
    /// <summary>Odd-sized shapes so chunks and vectors have remainders (48 hidden, MLP 144, vocabulary 23).</summary>
    private static ModelConfig OddConfig() => CachedForwardTests.TinyConfig() with { HiddenSize = 48, MlpRatio = 3, Heads = 4 };

    public static TheoryData<SimdLevel, int> SimdAndThreads()
    {
        var data = new TheoryData<SimdLevel, int>();
        foreach (var simd in new[] { SimdLevel.Vector512, SimdLevel.Vector256, SimdLevel.Scalar })
        {
            if ((simd == SimdLevel.Vector512 && !Vector512.IsHardwareAccelerated) || (simd == SimdLevel.Vector256 && !Vector256.IsHardwareAccelerated))
            {
                continue;
            }

            foreach (int threads in new[] { 1, 3 })
            {
                data.Add(simd, threads);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SimdAndThreads))]
    public void AdamW_parallel_vectorised_step_equals_the_plain_loop_bit_for_bit(SimdLevel simd, int threads)
    {
        var config = OddConfig();
        var fast = ModelParameters.CreateRandom(config, 1, 0.5f);
        var plain = fast.Clone();
        var optFast = new AdamW(config, new AdamWOptions { WeightDecay = 0.1 });
        var optPlain = new AdamW(config, new AdamWOptions { WeightDecay = 0.1 });
        var ctx = new ComputeContext(threads, simd);
        for (int step = 1; step <= 3; step++)
        {
            var g = ModelParameters.CreateRandom(config, (ulong)(10 + step), 0.3f);
            optFast.Step(ctx, fast, g, 0.01 * step);
            optPlain.StepReference(plain, g, 0.01 * step);
        }

        for (int t = 0; t < fast.Tensors.Count; t++)
        {
            Assert.Equal(plain.Tensors[t].Data, fast.Tensors[t].Data);
            Assert.Equal(optPlain.FirstMoment.Tensors[t].Data, optFast.FirstMoment.Tensors[t].Data);
            Assert.Equal(optPlain.SecondMoment.Tensors[t].Data, optFast.SecondMoment.Tensors[t].Data);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void AdamW_repacks_exactly_the_updated_weights(int threads)
    {
        // A model big enough that matrices span several optimizer chunks and end in a partial panel (MLP 3·80 = 240 rows).
        var config = OddConfig() with { HiddenSize = 80, Heads = 4 };
        var network = new DiffusionTransformer(ModelParameters.CreateRandom(config, 3, 0.5f), new ComputeContext(threads));
        var packed = network.PackedByTensor();
        var opt = new AdamW(config);
        var g = ModelParameters.CreateRandom(config, 4, 0.3f);
        opt.Step(network.Compute, network.Parameters, g, 0.05, packed);
        Assert.Equal(4 * config.Layers + 1, packed.Count);
        foreach (var (index, matrix) in packed)
        {
            var fresh = PackedMatrix.Pack(network.Parameters.Tensors[index].Data, matrix.Rows, matrix.Cols);
            var expected = new float[matrix.Rows * matrix.Cols];
            var actual = new float[matrix.Rows * matrix.Cols];
            fresh.CopyTo(expected);
            matrix.CopyTo(actual);
            Assert.Equal(network.Parameters.Tensors[index].Data, actual);
            Assert.Equal(expected, actual);
        }
    }

    [Theory]
    [MemberData(nameof(SimdAndThreads))]
    public void Ema_parallel_vectorised_update_equals_the_plain_loop_bit_for_bit(SimdLevel simd, int threads)
    {
        var config = OddConfig();
        var start = ModelParameters.CreateRandom(config, 1, 0.5f);
        var fast = new ExponentialMovingAverage(start, 0.999);
        var plain = new ExponentialMovingAverage(start, 0.999);
        var ctx = new ComputeContext(threads, simd);
        for (int n = 0; n < 4; n++)
        {
            var p = ModelParameters.CreateRandom(config, (ulong)(20 + n), 0.5f);
            fast.Update(ctx, p);
            plain.UpdateReference(p);
        }

        Assert.Equal(plain.UpdateCount, fast.UpdateCount);
        for (int t = 0; t < start.Tensors.Count; t++)
        {
            Assert.Equal(plain.Shadow.Tensors[t].Data, fast.Shadow.Tensors[t].Data);
        }
    }

    private static float[] Random(int n, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++)
        {
            a[i] = ((float)rng.NextDouble() - 0.5f) * 2 * scale;
        }

        return a;
    }

    [Theory]
    [InlineData(300, 48)]
    [InlineData(7, 96)]
    public void Parallel_layer_norm_and_gelu_forward_give_the_serial_bits(int rows, int d)
    {
        var x = Random(rows * d, 1, 3f);
        var w = Random(d, 2);
        var scale = Random(d, 3);
        var shift = Random(d, 4);
        var serial = new float[rows * d];
        var parallel = new float[rows * d];
        float[] m1 = new float[rows], r1 = new float[rows], m2 = new float[rows], r2 = new float[rows];
        Normalization.LayerNormModulated(new ComputeContext(1), x, serial, rows, d, w, scale, shift, 1e-6f, m1, r1);
        Normalization.LayerNormModulated(new ComputeContext(3), x, parallel, rows, d, w, scale, shift, 1e-6f, m2, r2);
        Assert.Equal(serial, parallel);
        Assert.Equal(m1, m2);
        Assert.Equal(r1, r2);

        var u = Random(rows * d * 4, 5, 4f);
        var g1 = new float[u.Length];
        var g2 = new float[u.Length];
        Activations.GeluTanh(u, g1);
        Activations.GeluTanh(new ComputeContext(3), u, g2);
        Assert.Equal(g1, g2);
    }

    [Theory]
    [InlineData(64, 2)]
    [InlineData(40, 3)]
    [InlineData(12, 1)]
    public void Rotary_backward_is_the_inverse_rotation_on_every_thread_count(int headDim, int threads)
    {
        // The transpose of a rotation is its inverse: rotating forward and then backward restores the gradient rows
        // (within rounding), and the vector path equals the plain scalar loop bit for bit.
        const int rows = 37, heads = 3, length = 50;
        int d = heads * headDim;
        var table = new RotaryTable(RotaryTable.InverseFrequencies(headDim, 10000f), length);
        var positions = Enumerable.Range(0, rows).Select(r => (r * 7) % length).ToArray();
        var g = Random(rows * 3 * d, 12);
        var plain = (float[])g.Clone();
        int half = headDim / 2;
        for (int r = 0; r < rows; r++)
        {
            var cos = table.Cos(positions[r]);
            var sin = table.Sin(positions[r]);
            for (int part = 0; part < 2; part++)
            {
                for (int h = 0; h < heads; h++)
                {
                    int o = (r * 3 * d) + (part * d) + (h * headDim);
                    for (int j = 0; j < half; j++)
                    {
                        float a = plain[o + j], b = plain[o + j + half];
                        plain[o + j] = (a * cos[j]) + (b * sin[j]);
                        plain[o + j + half] = (b * cos[j]) - (a * sin[j]);
                    }
                }
            }
        }

        var fast = (float[])g.Clone();
        TrainingKernels.RotaryBackward(new ComputeContext(threads), fast, rows, d, heads, headDim, positions, table);
        Assert.Equal(plain, fast);

        // Forward rotation by +θ of the backward result gives the original rows back.
        for (int r = 0; r < rows; r++)
        {
            var cos = table.Cos(positions[r]);
            var sin = table.Sin(positions[r]);
            for (int part = 0; part < 2; part++)
            {
                for (int h = 0; h < heads; h++)
                {
                    int o = (r * 3 * d) + (part * d) + (h * headDim);
                    for (int j = 0; j < half; j++)
                    {
                        double a = fast[o + j], b = fast[o + j + half];
                        Assert.True(Math.Abs(g[o + j] - ((a * cos[j]) - (b * sin[j]))) < 1e-5, $"row {r} col {j}");
                        Assert.True(Math.Abs(g[o + j + half] - ((b * cos[j]) + (a * sin[j]))) < 1e-5, $"row {r} col {j + half}");
                    }
                }
            }

            for (int j = 2 * d; j < 3 * d; j++)
            {
                Assert.Equal(g[(r * 3 * d) + j], fast[(r * 3 * d) + j]);
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(517)]
    [InlineData(5000)]
    public void Fused_gelu_equals_one_operation_per_pass_bit_for_bit(int n)
    {
        // The fused passes must round exactly like the former one-TensorPrimitives-call-per-operation sequence.
        var x = Random(n, 8, 6f);
        x[0] = 0f;
        if (n > 3)
        {
            x[1] = -0f;
            x[2] = 30f;
            x[3] = -30f;
        }

        var expected = new float[n];
        var t = new float[n];
        const float c = 0.7978845608028654f;
        for (int i = 0; i < n; i += 512)
        {
            int len = Math.Min(512, n - i);
            var xs = x.AsSpan(i, len);
            var ts = t.AsSpan(i, len);
            System.Numerics.Tensors.TensorPrimitives.Multiply(xs, xs, ts);
            System.Numerics.Tensors.TensorPrimitives.Multiply(ts, 0.044715f * c, ts);
            System.Numerics.Tensors.TensorPrimitives.Add(ts, c, ts);
            System.Numerics.Tensors.TensorPrimitives.Multiply(ts, xs, ts);
            System.Numerics.Tensors.TensorPrimitives.Tanh(ts, ts);
            System.Numerics.Tensors.TensorPrimitives.Add(ts, 1f, ts);
            System.Numerics.Tensors.TensorPrimitives.Multiply(ts, xs, ts);
            System.Numerics.Tensors.TensorPrimitives.Multiply(ts, 0.5f, expected.AsSpan(i, len));
        }

        var actual = new float[n];
        Activations.GeluTanh(x, actual);
        Assert.Equal(expected, actual);
        var inPlace = (float[])x.Clone();
        Activations.GeluTanh(inPlace, inPlace);
        Assert.Equal(expected, inPlace);

        // Backward: the former sequence (tanh of the inner term, then the scalar product loop) bit for bit, and a
        // central difference of the plain scalar GELU within a tolerance.
        var g = Random(n, 9);
        var gExpected = (float[])g.Clone();
        var x2 = new float[n];
        var th = new float[n];
        const float c0 = 0.7978845608028654f, c1 = 0.044715f;
        System.Numerics.Tensors.TensorPrimitives.Multiply(x, x, x2);
        System.Numerics.Tensors.TensorPrimitives.Multiply(x2, c1, th);
        System.Numerics.Tensors.TensorPrimitives.Add(th, 1f, th);
        System.Numerics.Tensors.TensorPrimitives.Multiply(th, x, th);
        System.Numerics.Tensors.TensorPrimitives.Multiply(th, c0, th);
        System.Numerics.Tensors.TensorPrimitives.Tanh(th, th);
        System.Numerics.Tensors.TensorPrimitives.Multiply(x2, 3 * c1, x2);
        System.Numerics.Tensors.TensorPrimitives.Add(x2, 1f, x2);
        System.Numerics.Tensors.TensorPrimitives.Multiply(x2, x, x2);
        System.Numerics.Tensors.TensorPrimitives.Multiply(x2, 0.5f * c0, x2);
        for (int i = 0; i < n; i++)
        {
            gExpected[i] *= (0.5f * (1f + th[i])) + (x2[i] * (1f - (th[i] * th[i])));
        }

        var gActual = (float[])g.Clone();
        TrainingGraph.GeluBackwardPiece(x, gActual, new float[n]);
        Assert.Equal(gExpected, gActual);
        for (int i = 0; i < n; i++)
        {
            double h = 1e-3, v = x[i];
            double Gelu(double z) => 0.5 * z * (1 + Math.Tanh(c0 * (z + (c1 * z * z * z))));
            double derivative = (Gelu(v + h) - Gelu(v - h)) / (2 * h);
            Assert.True(Math.Abs((g[i] * derivative) - gActual[i]) <= 1e-4 * (1 + Math.Abs(g[i])), $"x={v}: {gActual[i]} vs {g[i] * derivative}");
        }
    }

    [Theory]
    [InlineData(100, 48)]
    [InlineData(33, 64)]
    public void Parallel_layer_norm_backward_matches_the_serial_loop_and_every_thread_count(int rows, int d)
    {
        var x = Random(rows * d, 1, 2f);
        var dy = Random(rows * d, 2);
        var w = Random(d, 3);
        var scale = Random(d, 4);
        var mean = new float[rows];
        var rstd = new float[rows];
        Normalization.LayerNormModulated(new ComputeContext(1), x, new float[rows * d], rows, d, w, scale, default, 1e-6f, mean, rstd);

        var dxRef = new float[rows * d];
        float[] dwRef = Random(d, 5), dsRef = Random(d, 6), dhRef = Random(d, 7);
        TrainingGraph.LayerNormBackwardReference(x, mean, rstd, dy, dxRef, rows, d, w, scale, dwRef, dsRef, dhRef);

        float[]? firstDx = null, firstDw = null;
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var dx = new float[rows * d];
            float[] dw = Random(d, 5), ds = Random(d, 6), dh = Random(d, 7);
            var partials = new float[TrainingKernels.Blocks(rows) * 2 * d];
            TrainingKernels.LayerNormBackward(new ComputeContext(threads), x, mean, rstd, dy, dx, rows, d, w, scale, dw, ds, dh, partials, new float[d],
                new float[d]);
            AssertClose(dxRef, dx, 2e-5f);
            AssertClose(dwRef, dw, 2e-5f);
            AssertClose(dsRef, ds, 2e-5f);
            AssertClose(dhRef, dh, 2e-5f);
            firstDx ??= dx;
            firstDw ??= dw;
            Assert.Equal(firstDx, dx);
            Assert.Equal(firstDw, dw);
        }
    }

    [Fact]
    public void Parallel_gate_and_bias_backward_match_plain_loops()
    {
        int rows = 77, d = 40;
        var dOut = Random(rows * d, 1);
        var branch = Random(rows * d, 2);
        var gate = Random(d, 3);
        var dGateRef = Random(d, 4);
        var dBranchRef = new float[rows * d];
        var biasRef = Random(d, 5);
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < d; i++)
            {
                dBranchRef[(r * d) + i] = dOut[(r * d) + i] * gate[i];
                dGateRef[i] += dOut[(r * d) + i] * branch[(r * d) + i];
                biasRef[i] += dOut[(r * d) + i];
            }
        }

        foreach (int threads in new[] { 1, 3 })
        {
            var ctx = new ComputeContext(threads);
            var partials = new float[TrainingKernels.Blocks(rows) * d];
            var dGate = Random(d, 4);
            var dBranch = new float[rows * d];
            TrainingKernels.GateBackward(ctx, dOut, branch, gate, dBranch, dGate, rows, d, partials);
            Assert.Equal(dBranchRef, dBranch);
            AssertClose(dGateRef, dGate, 1e-5f);
            var bias = Random(d, 5);
            TrainingKernels.ColumnSum(ctx, dOut, bias, rows, d, partials);
            AssertClose(biasRef, bias, 1e-5f);
        }
    }

    [Theory]
    [InlineData(50, 70, 600)]
    [InlineData(256, 96, 300)]
    public void Weight_gradient_kernel_equals_the_plain_sum_and_the_general_product(int m, int n, int rows)
    {
        var dY = Random(rows * m, 1);
        var x = Random(rows * n, 2);
        var start = Random(m * n, 3);
        var plain = (float[])start.Clone();
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double acc = 0;
                for (int r = 0; r < rows; r++)
                {
                    acc += (double)dY[(r * m) + i] * x[(r * n) + j];
                }

                plain[(i * n) + j] += (float)acc;
            }
        }

        var general = (float[])start.Clone();
        Gemm.Multiply(new ComputeContext(1), dY, x, general, m, n, rows, transposeA: true, accumulate: true);
        foreach (int threads in new[] { 1, 2, 3 })
        {
            var fast = (float[])start.Clone();
            TrainingKernels.WeightGradient(new ComputeContext(threads), dY, x, fast, m, n, rows);
            AssertClose(plain, fast, 1e-5f);
            Assert.Equal(general, fast);
        }
    }

    [Fact]
    public void Accumulated_micro_batches_equal_one_large_batch()
    {
        // N micro-batches of B rows (each with the same share of diffusion and sequential rows) give the mean gradient;
        // one batch of N·B rows with the same rows and corruption gives the same gradient within fp tolerance.
        var config = CachedForwardTests.TinyConfig(vocab: 23, mask: 5, length: 12);
        var model = new DiffusionTransformer(ModelParameters.CreateRandom(config, 7, 0.3f), new ComputeContext(2));
        var objective = new EsoLmObjective(new ObjectiveOptions { Alpha0 = 0.5 }, config.MaskTokenId);
        const int micro = 3, b = 4, length = 12;
        int big = micro * b;
        var rng = new Random(3);
        var x = Enumerable.Range(0, big * length).Select(_ => rng.Next(6, 23)).ToArray();
        var corruption = objective.Sample(x, big, length, 11, 0);
        int diffusionPerMicro = objective.DiffusionRows(b), diffusionBig = objective.DiffusionRows(big);
        Assert.Equal(micro * diffusionPerMicro, diffusionBig);

        var graph = model.CreateTrainingGraph();
        var whole = model.CreateGradients();
        double bigLoss = objective.Evaluate(graph, x, big, length, corruption, whole).Loss;

        var accumulated = model.CreateGradients();
        double loss = 0;
        for (int k = 0; k < micro; k++)
        {
            // Micro-batch k: its share of the diffusion rows, then its share of the sequential rows.
            var rows = Enumerable.Range(k * diffusionPerMicro, diffusionPerMicro)
                .Concat(Enumerable.Range(diffusionBig + (k * (b - diffusionPerMicro)), b - diffusionPerMicro)).ToArray();
            var xs = rows.SelectMany(r => x.Skip(r * length).Take(length)).ToArray();
            loss += objective.Evaluate(graph, xs, b, length, rows.Select(r => corruption[r]).ToArray(), accumulated).Loss / micro;
        }

        accumulated.Scale(1f / micro);
        Assert.Equal(bigLoss, loss, 1e-5);
        var expected = whole.CopyToHost();
        var actual = accumulated.CopyToHost();
        for (int t = 0; t < expected.Tensors.Count; t++)
        {
            AssertClose(expected.Tensors[t].Data, actual.Tensors[t].Data, 1e-5f);
        }
    }

    [Fact]
    public void Micro_batches_see_the_rows_of_the_large_batch()
    {
        var (data, _) = TrainerTests.GrammarData();
        const int micro = 3, b = 4;
        var big = new int[micro * b * data.Length];
        data.FillBatch(5, micro * b, 9, big);
        for (int k = 0; k < micro; k++)
        {
            var part = new int[b * data.Length];
            data.FillBatch((5 * micro) + k, b, 9, part);
            Assert.Equal(big.AsSpan(k * b * data.Length, b * data.Length).ToArray(), part);
        }
    }

    [Fact]
    public void Resuming_mid_run_with_gradient_accumulation_gives_bit_identical_weights()
    {
        var dir = Directory.CreateTempSubdirectory("esolm-accum-").FullName;
        try
        {
            var (data, tok) = TrainerTests.GrammarData();
            var objective = new ObjectiveOptions { Alpha0 = 0.5 };
            var options = new TrainerOptions { Steps = 4, BatchSize = 4, GradientAccumulation = 2, LearningRate = 3e-3, WarmupSteps = 1, Dropout = 0.1f, Seed = 5 };
            var compute = new EsoLM.Backends.Cpu.CpuBackend(new ComputeContext(2));
            var straight = new EsoLmTrainer(TrainerTests.Config(tok), objective, options, data, compute, tok.Describe());
            straight.Train();
            var path = Path.Combine(dir, "ckpt.safetensors");
            new EsoLmTrainer(TrainerTests.Config(tok), objective, options with { Steps = 2 }, data, compute, tok.Describe()).Train(checkpointPath: path);
            var resumed = EsoLmTrainer.Resume(path, objective, options, data, compute);
            resumed.Train();
            Assert.Throws<InvalidOperationException>(() => EsoLmTrainer.Resume(path, objective, options with { GradientAccumulation = 1 }, data, compute));
            var a = straight.Model.CopyParametersToHost();
            var c = resumed.Model.CopyParametersToHost();
            for (int i = 0; i < a.Tensors.Count; i++)
            {
                Assert.Equal(a.Tensors[i].Data, c.Tensors[i].Data);
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void AssertClose(float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = Math.Max(1e-3f, expected.Max(MathF.Abs));
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= tolerance * scale,
                $"index {i}: expected {expected[i]}, got {actual[i]} (tolerance {tolerance * scale})");
        }
    }
}
