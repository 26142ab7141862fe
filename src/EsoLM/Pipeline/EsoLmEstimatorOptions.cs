using EsoLM.Backends;
using EsoLM.Backends.Cpu;
using EsoLM.Hosting;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Text;
using EsoLM.Training;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Pipeline;

/// <summary>Settings of <see cref="EsoLmEstimator"/>: the network shape, training and generation defaults.</summary>
public sealed record EsoLmEstimatorOptions
{
    /// <summary>The tokenizer; null builds a character tokenizer from the training documents.</summary>
    public Tokenizer? Tokenizer { get; init; }

    /// <summary>Context length L (training rows and generation length).</summary>
    public int ContextLength { get; init; } = 64;

    /// <summary>Hidden size.</summary>
    public int HiddenSize { get; init; } = 64;

    /// <summary>Attention heads (must divide <see cref="HiddenSize"/>).</summary>
    public int Heads { get; init; } = 4;

    /// <summary>Transformer blocks.</summary>
    public int Layers { get; init; } = 2;

    /// <summary>Conditioning width.</summary>
    public int CondDim { get; init; } = 32;

    /// <summary>MLP expansion ratio.</summary>
    public int MlpRatio { get; init; } = 4;

    /// <summary>Fraction of rows held out for validation.</summary>
    public double ValidationFraction { get; init; } = 0.05;

    /// <summary>Optimizer, steps, batch size, seed.</summary>
    public TrainerOptions Trainer { get; init; } = new() { Steps = 200, BatchSize = 16, WarmupSteps = 20, LearningRate = 3e-3 };

    /// <summary>The Eso-LM objective (α0, variant).</summary>
    public ObjectiveOptions Objective { get; init; } = new() { Alpha0 = 0.5 };

    /// <summary>Kernel threads; null = all cores.</summary>
    public int? Threads { get; init; }

    /// <summary>The compute backend to train and generate on; null = the <c>cpu</c> backend with <see cref="Threads"/> threads.</summary>
    public IComputeBackend? Backend { get; init; }

    /// <summary>
    /// Generation defaults of the trained transformer. Its mask policy and α_eval default to the trained
    /// <see cref="Objective"/>'s variant and α0; other masks are refused unless <see cref="EsoLmOptions.AllowMaskPolicyMismatch"/>.
    /// </summary>
    public EsoLmOptions Generation { get; init; } = new();
}
