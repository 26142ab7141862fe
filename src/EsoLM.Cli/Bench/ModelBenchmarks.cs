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

    /// <summary>Training tokens per second (rows × L per step) for the reference shape: 4 layers, 256 hidden, L = 128, batch 32.</summary>
    public static TrainBenchmarkResult Train(IComputeBackend backend, int layers = 4, int hidden = 256, int heads = 4, int length = 128, int batch = 32,
        double alpha0 = 0.25, int steps = 5)
    {
        var config = new ModelConfig
        {
            VocabSize = 64,
            MaskTokenId = 63,
            HiddenSize = hidden,
            Heads = heads,
            Layers = layers,
            CondDim = Math.Min(128, hidden),
            ContextLength = length,
        };
        var rng = new Random(1);
        var tokens = Enumerable.Range(0, length * batch * (steps + 2)).Select(_ => rng.Next(63)).ToArray();
        var data = TokenDataset.FromTokens(tokens, length, 0);
        var trainer = new EsoLmTrainer(config, new ObjectiveOptions { Alpha0 = alpha0 }, new TrainerOptions { Steps = steps + 2, BatchSize = batch, WarmupSteps = 1 },
            data, backend);
        trainer.TrainStep();
        trainer.TrainStep();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var sw = Stopwatch.StartNew();
        for (int s = 0; s < steps; s++)
        {
            trainer.TrainStep();
        }

        double seconds = sw.Elapsed.TotalSeconds;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        return new TrainBenchmarkResult(layers, hidden, length, batch, alpha0, steps, seconds / steps, batch * length * steps / seconds, allocated / steps);
    }
}

/// <summary>Result of <see cref="ModelBenchmarks.Train"/>.</summary>
internal sealed record TrainBenchmarkResult(int Layers, int Hidden, int Length, int Batch, double Alpha0, int Steps, double SecondsPerStep,
    double TokensPerSecond, long AllocatedBytesPerStep);
