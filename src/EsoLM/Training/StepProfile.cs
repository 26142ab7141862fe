using System.Diagnostics;

namespace EsoLM.Training;

/// <summary>The parts of a training step that <see cref="StepProfile"/> times separately.</summary>
internal enum StepPhase
{
    /// <summary>Dense matrix products of the forward pass (layers and vocabulary head).</summary>
    GemmForward,

    /// <summary>Dense matrix products of the backward pass that give the input gradients (dX = dY·W).</summary>
    GemmInputGradient,

    /// <summary>Dense matrix products of the backward pass that give the weight gradients (dW += dYᵀ·X).</summary>
    GemmWeightGradient,

    /// <summary>Attention forward (per sequence and head).</summary>
    AttentionForward,

    /// <summary>Attention backward (per sequence and head).</summary>
    AttentionBackward,

    /// <summary>Layer norm forward and backward (with the adaLN modulation).</summary>
    LayerNorm,

    /// <summary>GELU forward and backward.</summary>
    Activations,

    /// <summary>Gated residuals forward and backward, bias column sums, the embedding gather and scatter.</summary>
    Residual,

    /// <summary>RoPE forward and backward.</summary>
    Rotary,

    /// <summary>Log-softmax, cross-entropy and its logit gradient.</summary>
    Loss,

    /// <summary>Conditioning (sigma map, adaLN) gradients.</summary>
    Conditioning,

    /// <summary>Gradient norm and clipping.</summary>
    GradientNorm,

    /// <summary>The AdamW update.</summary>
    Optimizer,

    /// <summary>The EMA update.</summary>
    Ema,

    /// <summary>Re-deriving the packed weights and the adaLN modulations after an update.</summary>
    Repack,

    /// <summary>Batch drawing and corruption (data order, noise, permutations, key ranges).</summary>
    Data,
}

/// <summary>
/// Accumulated wall time per <see cref="StepPhase"/> of training steps (Stopwatch timestamps taken on the thread that
/// drives the step; the parallel kernels are timed end to end). Attached to a network only when a benchmark asks, so
/// an ordinary run pays one null check per phase.
/// </summary>
internal sealed class StepProfile
{
    /// <summary>Number of phases.</summary>
    public static readonly int PhaseCount = Enum.GetValues<StepPhase>().Length;

    private readonly long[] _ticks = new long[PhaseCount];

    /// <summary>Floating-point operations of the dense matrix products counted so far (2 per multiply-add).</summary>
    public double MatrixFlops { get; private set; }

    /// <summary>A timestamp to pass to <see cref="Stop"/>.</summary>
    public static long Start() => Stopwatch.GetTimestamp();

    /// <summary>Adds the time since <paramref name="start"/> to <paramref name="phase"/> and returns a new start.</summary>
    public long Stop(StepPhase phase, long start)
    {
        long now = Stopwatch.GetTimestamp();
        _ticks[(int)phase] += now - start;
        return now;
    }

    /// <summary>Counts the FLOPs of an [m, k]·[k, n] product.</summary>
    public void CountGemm(int m, int n, int k) => MatrixFlops += 2.0 * m * n * k;

    /// <summary>Seconds spent in <paramref name="phase"/> so far.</summary>
    public double Seconds(StepPhase phase) => _ticks[(int)phase] / (double)Stopwatch.Frequency;

    /// <summary>Forgets everything measured so far.</summary>
    public void Reset()
    {
        Array.Clear(_ticks);
        MatrixFlops = 0;
    }

    /// <summary>The JSON key of a phase (snake case).</summary>
    public static string Key(StepPhase phase) => phase switch
    {
        StepPhase.GemmForward => "gemm_forward",
        StepPhase.GemmInputGradient => "gemm_input_gradient",
        StepPhase.GemmWeightGradient => "gemm_weight_gradient",
        StepPhase.AttentionForward => "attention_forward",
        StepPhase.AttentionBackward => "attention_backward",
        StepPhase.LayerNorm => "layer_norm",
        StepPhase.Activations => "gelu_activations",
        StepPhase.Residual => "residual_bias_embedding",
        StepPhase.Rotary => "rotary",
        StepPhase.Loss => "softmax_cross_entropy",
        StepPhase.Conditioning => "conditioning_gradients",
        StepPhase.GradientNorm => "gradient_norm_clip",
        StepPhase.Optimizer => "optimizer",
        StepPhase.Ema => "ema",
        StepPhase.Repack => "weight_repacking",
        StepPhase.Data => "data_corruption",
        _ => throw new ArgumentOutOfRangeException(nameof(phase), phase, "Unknown phase."),
    };
}
