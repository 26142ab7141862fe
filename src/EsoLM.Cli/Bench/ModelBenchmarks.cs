using EsoLM.Backends;
using System.Diagnostics;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Training;

namespace EsoLM.Cli.Bench;

/// <summary>Throughput of whole model passes: the inference forward and a full training step.</summary>
internal static class ModelBenchmarks
{
    /// <summary>
    /// Tokens per second of one full diffusion-mode forward (variant B, causal) over <paramref name="length"/> tokens with
    /// a 12-layer, 768-hidden, 12-head model (GPT-2 vocabulary + mask): the ratio of work a sampler step pays per token.
    /// </summary>
    public static double ForwardTokensPerSecond(IComputeBackend backend, int length = 1024, int layers = 12, int hidden = 768, int heads = 12, int repeats = 3)
    {
        var config = new ModelConfig
        {
            VocabSize = 50258,
            MaskTokenId = 50257,
            HiddenSize = hidden,
            Heads = heads,
            Layers = layers,
            ContextLength = length,
        };
        var model = backend.Load(ModelParameters.CreateRandom(config, 3, 0.02f));
        var session = new ModelSession(model, 1, length);
        var rng = new Random(1);
        var tokens = Enumerable.Range(0, length).Select(_ => rng.Next(50257)).ToArray();
        var positions = Enumerable.Range(0, length).OrderBy(_ => rng.Next()).ToArray();
        // Logits for every row: the vocabulary head is part of the cost of a full forward.
        var logits = new float[(long)length * config.VocabSize];
        session.Diffusion(EsoLmVariant.B, 1, length, tokens, positions, [length / 2], logits);
        double best = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            var sw = Stopwatch.StartNew();
            session.Diffusion(EsoLmVariant.B, 1, length, tokens, positions, [length / 2], logits);
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }

        return length / best;
    }

    /// <summary>
    /// Training tokens per second (rows × L per step) for a model shape (default: the reference shape, 4 layers,
    /// 256 hidden, 4 heads, cond 128, L = 128, batch 32, α0 = 0.25, vocabulary 64). On the CPU backend the timed steps are
    /// profiled per phase (<see cref="StepProfile"/>) and the FMA ceiling is measured after them in the same run.
    /// </summary>
    public static TrainBenchmarkResult Train(IComputeBackend backend, int layers = 4, int hidden = 256, int heads = 4, int length = 128, int batch = 32,
        double alpha0 = 0.25, int steps = 5, int condDim = 128, int gradAccum = 1, bool measureCeiling = true)
    {
        var config = new ModelConfig
        {
            VocabSize = 64,
            MaskTokenId = 63,
            HiddenSize = hidden,
            Heads = heads,
            Layers = layers,
            CondDim = Math.Min(condDim, hidden),
            ContextLength = length,
        };
        config.Validate();
        var rng = new Random(1);
        var tokens = Enumerable.Range(0, length * batch * gradAccum * (steps + 2)).Select(_ => rng.Next(63)).ToArray();
        var data = TokenDataset.FromTokens(tokens, length, 0);
        var trainer = new EsoLmTrainer(config, new ObjectiveOptions { Alpha0 = alpha0 },
            new TrainerOptions { Steps = steps + 2, BatchSize = batch, WarmupSteps = 1, GradientAccumulation = gradAccum }, data, backend);
        trainer.TrainStep();
        trainer.TrainStep();
        var network = trainer.Model as DiffusionTransformer;
        var profile = network is null ? null : new StepProfile();
        if (network is not null)
        {
            network.Profile = profile;
        }

        long before = GC.GetTotalAllocatedBytes(precise: true);
        var sw = Stopwatch.StartNew();
        for (int s = 0; s < steps; s++)
        {
            trainer.TrainStep();
        }

        double seconds = sw.Elapsed.TotalSeconds;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        if (network is not null)
        {
            network.Profile = null;
        }

        var phases = new List<KeyValuePair<string, double>>();
        double matrixFlops = 0, ceiling = 0;
        if (profile is not null)
        {
            double measured = 0;
            // "gemm" is the sum of the three product kinds, which follow it.
            phases.Add(new("gemm", (profile.Seconds(StepPhase.GemmForward) + profile.Seconds(StepPhase.GemmInputGradient) +
                profile.Seconds(StepPhase.GemmWeightGradient)) / steps));
            foreach (var phase in Enum.GetValues<StepPhase>())
            {
                double perStep = profile.Seconds(phase) / steps;
                measured += perStep;
                phases.Add(new(StepProfile.Key(phase), perStep));
            }

            phases.Add(new("other", Math.Max(0, (seconds / steps) - measured)));
            matrixFlops = profile.MatrixFlops / steps;
            if (measureCeiling)
            {
                var ctx = network!.Compute;
                ceiling = KernelBenchmark.MeasureFmaCeiling(ctx.MaxDegreeOfParallelism, ctx.Simd);
            }
        }

        int samples = batch * gradAccum;
        return new TrainBenchmarkResult(layers, hidden, length, samples, alpha0, steps, seconds / steps, samples * length * steps / seconds, allocated / steps)
        {
            Heads = heads,
            CondDim = config.CondDim,
            VocabSize = config.VocabSize,
            GradientAccumulation = gradAccum,
            Phases = phases,
            MatrixFlopsPerStep = matrixFlops,
            FmaCeilingGflops = ceiling,
        };
    }
}

/// <summary>Result of <see cref="ModelBenchmarks.Train"/>.</summary>
internal sealed record TrainBenchmarkResult(int Layers, int Hidden, int Length, int Batch, double Alpha0, int Steps, double SecondsPerStep,
    double TokensPerSecond, long AllocatedBytesPerStep)
{
    /// <summary>Attention heads.</summary>
    public int Heads { get; init; }

    /// <summary>Conditioning width.</summary>
    public int CondDim { get; init; }

    /// <summary>Vocabulary size (with the mask).</summary>
    public int VocabSize { get; init; }

    /// <summary>Micro-batches per optimizer step (<see cref="Batch"/> counts the rows of all of them).</summary>
    public int GradientAccumulation { get; init; } = 1;

    /// <summary>
    /// Seconds per step in each phase (CPU backend only): "gemm" (the sum of "gemm_forward", "gemm_input_gradient" and
    /// "gemm_weight_gradient", which follow it), then every <see cref="StepPhase"/>, then "other" (the step time no phase claimed).
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, double>> Phases { get; init; } = [];

    /// <summary>FLOPs of the dense matrix products of one step (layers and head, forward and backward).</summary>
    public double MatrixFlopsPerStep { get; init; }

    /// <summary>The FMA ceiling measured after the timed steps (0 when not measured).</summary>
    public double FmaCeilingGflops { get; init; }

    /// <summary>Matrix GFLOP/s of the whole step: <see cref="MatrixFlopsPerStep"/> / <see cref="SecondsPerStep"/>.</summary>
    public double StepGflops => MatrixFlopsPerStep / SecondsPerStep / 1e9;

    /// <summary>GFLOP/s inside the GEMM phase alone.</summary>
    public double GemmPhaseGflops => Phases.FirstOrDefault(p => p.Key == "gemm").Value is double g && g > 0 ? MatrixFlopsPerStep / g / 1e9 : 0;

    /// <summary><see cref="StepGflops"/> as a fraction of the FMA ceiling (0 when not measured).</summary>
    public double CeilingFraction => FmaCeilingGflops > 0 ? StepGflops / FmaCeilingGflops : 0;
}
