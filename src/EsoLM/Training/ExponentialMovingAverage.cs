using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using EsoLM.Modeling;
using EsoLM.Tensors;

namespace EsoLM.Training;

/// <summary>
/// EMA of the parameters with the reference warm-up: at update n (counted from 1), decay_n = min(decay, (1 + n)/(10 + n))
/// and shadow −= (1 − decay_n)·(shadow − param). Inference and evaluation use the shadow weights.
/// </summary>
internal sealed class ExponentialMovingAverage
{
    /// <summary>Starts the average at the current parameters.</summary>
    public ExponentialMovingAverage(ModelParameters parameters, double decay = 0.9999)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(decay >= 0 && decay < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(decay), decay, "The EMA decay must be in [0, 1).");
        }

        Decay = decay;
        Shadow = parameters.Clone();
    }

    /// <summary>The maximum decay.</summary>
    public double Decay { get; }

    /// <summary>The averaged weights.</summary>
    public ModelParameters Shadow { get; }

    /// <summary>Updates taken so far.</summary>
    public long UpdateCount { get; set; }

    /// <summary>Folds the current parameters into the average (all cores).</summary>
    public void Update(ModelParameters parameters) => Update(ComputeContext.Default, parameters);

    /// <summary>
    /// Folds the current parameters into the average: vectorised over fixed chunks on the context's threads, with per
    /// element exactly the operations of <see cref="UpdateReference"/> (the same bits on every thread count).
    /// </summary>
    public void Update(ComputeContext context, ModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(parameters);
        float oneMinus = NextOneMinusDecay();
        if (_chunks.Length == 0)
        {
            var list = new List<(int, int, int)>();
            for (int t = 0; t < Shadow.Tensors.Count; t++)
            {
                int n = Shadow.Tensors[t].Data.Length;
                for (int s = 0; s < n; s += AdamW.ChunkElements)
                {
                    list.Add((t, s, Math.Min(AdamW.ChunkElements, n - s)));
                }
            }

            _chunks = [.. list];
        }

        var body = new UpdateTask(_chunks, Shadow, parameters, oneMinus, context.Simd);
        ParallelTasks.Run(context, _chunks.Length, ref body);
    }

    /// <summary>The plain per-element loop (the definition).</summary>
    public void UpdateReference(ModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        float oneMinus = NextOneMinusDecay();
        for (int t = 0; t < parameters.Tensors.Count; t++)
        {
            var s = Shadow.Tensors[t].Data;
            var p = parameters.Tensors[t].Data;
            for (int i = 0; i < s.Length; i++)
            {
                s[i] -= oneMinus * (s[i] - p[i]);
            }
        }
    }

    private (int Tensor, int Start, int Length)[] _chunks = [];

    private float NextOneMinusDecay()
    {
        UpdateCount++;
        float d = (float)Math.Min(Decay, (1.0 + UpdateCount) / (10.0 + UpdateCount));
        return 1f - d;
    }

    private readonly struct UpdateTask((int Tensor, int Start, int Length)[] chunks, ModelParameters shadow, ModelParameters parameters, float oneMinus,
        SimdLevel simd) : ITaskBody
    {
        public void Run(int task)
        {
            var (t, start, length) = chunks[task];
            var s = shadow.Tensors[t].Data.AsSpan(start, length);
            var p = parameters.Tensors[t].Data.AsSpan(start, length);
            int i = 0, n = s.Length;
            ref float sr = ref MemoryMarshal.GetReference(s);
            ref float pr = ref MemoryMarshal.GetReference(p);
            if (simd == SimdLevel.Vector512 && Vector512.IsHardwareAccelerated)
            {
                var om = Vector512.Create(oneMinus);
                for (; i <= n - Vector512<float>.Count; i += Vector512<float>.Count)
                {
                    var si = Vector512.LoadUnsafe(ref sr, (nuint)i);
                    (si - (om * (si - Vector512.LoadUnsafe(ref pr, (nuint)i)))).StoreUnsafe(ref sr, (nuint)i);
                }
            }
            else if (simd != SimdLevel.Scalar && Vector256.IsHardwareAccelerated)
            {
                var om = Vector256.Create(oneMinus);
                for (; i <= n - Vector256<float>.Count; i += Vector256<float>.Count)
                {
                    var si = Vector256.LoadUnsafe(ref sr, (nuint)i);
                    (si - (om * (si - Vector256.LoadUnsafe(ref pr, (nuint)i)))).StoreUnsafe(ref sr, (nuint)i);
                }
            }

            for (; i < n; i++)
            {
                s[i] -= oneMinus * (s[i] - p[i]);
            }
        }
    }
}
