using System.Diagnostics;
using EsoLM.Training;

namespace EsoLM.Modeling;

/// <summary>The parts of a sampling step that <see cref="InferenceProfile"/> times separately (beyond the block phases).</summary>
internal enum InferencePhase
{
    /// <summary>The whole <c>INetwork.Forward</c> call.</summary>
    Forward,

    /// <summary>Gathering the output rows and the final (modulated) layer norm.</summary>
    FinalNorm,

    /// <summary>The vocabulary-head GEMM (logits).</summary>
    HeadGemm,

    /// <summary>Token selection of every output row (the sampling engine's select call).</summary>
    Selection,
}

/// <summary>
/// Wall time per phase of sampling steps, for <c>esolm bench sample --profile</c> only. The block phases (GEMMs, layer norm,
/// rotary, attention, residuals, GELU) are recorded by the layer loop into <see cref="Blocks"/> (the training profile's
/// phases); the rest by the forward pass and the sampling engine through <see cref="Active"/>, which is null (one null
/// check per phase) unless a benchmark sets it. Timestamps are taken on the thread that drives the step; the parallel
/// kernels are timed end to end. Not thread-safe: one sampler at a time while set.
/// </summary>
internal sealed class InferenceProfile
{
    private static readonly int Count = Enum.GetValues<InferencePhase>().Length;

    private readonly long[] _ticks = new long[Count];

    /// <summary>The profile the running benchmark collects into (null: profiling off).</summary>
    public static InferenceProfile? Active { get; set; }

    /// <summary>The block phases (recorded by the shared layer loop).</summary>
    public StepProfile Blocks { get; } = new();

    /// <summary>A timestamp to pass to <see cref="Stop"/>.</summary>
    public static long Start() => Stopwatch.GetTimestamp();

    /// <summary>Adds the time since <paramref name="start"/> to <paramref name="phase"/> and returns a new start.</summary>
    public long Stop(InferencePhase phase, long start)
    {
        long now = Stopwatch.GetTimestamp();
        _ticks[(int)phase] += now - start;
        return now;
    }

    /// <summary>Seconds spent in <paramref name="phase"/> so far.</summary>
    public double Seconds(InferencePhase phase) => _ticks[(int)phase] / (double)Stopwatch.Frequency;

    /// <summary>Forgets everything measured so far.</summary>
    public void Reset()
    {
        Array.Clear(_ticks);
        Blocks.Reset();
    }
}
