using System.Numerics.Tensors;
using EsoLM.Tensors;

namespace EsoLM.Modeling;

/// <summary>
/// Attention forward and backward for training, one (sequence, head) at a time, reading q, k and v straight from the
/// packed [rows, 3·hidden] qkv buffer. The forward keeps only each row's log-sum-exp; the backward recomputes the
/// probabilities from it (as flash attention does) instead of storing n² of them.
/// </summary>
internal static class TrainingAttention
{
    [ThreadStatic]
    private static float[]? _scratch;

    /// <summary>out_i = Σ_k softmax(q_i·k_k·scale) v_k over the visible keys; lse_i = log Σ exp(scores).</summary>
    public static void Forward(ReadOnlySpan<float> qkv, int rowStart, int n, int head, int hidden, int headDim,
        ReadOnlySpan<KeyRange> visible, float scale, Span<float> output, Span<float> lse, int heads)
    {
        var scores = Scratch(n);
        int stride = 3 * hidden, qOff = head * headDim, kOff = hidden + qOff, vOff = (2 * hidden) + qOff;
        for (int i = 0; i < n; i++)
        {
            var q = qkv.Slice(((rowStart + i) * stride) + qOff, headDim);
            var o = output.Slice(((rowStart + i) * hidden) + qOff, headDim);
            o.Clear();
            var vr = visible[i];
            if (vr.Count == 0)
            {
                lse[((rowStart + i) * heads) + head] = float.NegativeInfinity;
                continue;
            }

            float max = float.NegativeInfinity;
            for (int pass = 0; pass < 2; pass++)
            {
                int s = pass == 0 ? vr.Start0 : vr.Start1, e = pass == 0 ? vr.End0 : vr.End1;
                for (int k = s; k < e; k++)
                {
                    float v = TensorPrimitives.Dot(q, qkv.Slice(((rowStart + k) * stride) + kOff, headDim)) * scale;
                    scores[k] = v;
                    max = MathF.Max(max, v);
                }
            }

            double sum = 0;
            for (int pass = 0; pass < 2; pass++)
            {
                int s = pass == 0 ? vr.Start0 : vr.Start1, e = pass == 0 ? vr.End0 : vr.End1;
                for (int k = s; k < e; k++)
                {
                    float p = MathF.Exp(scores[k] - max);
                    scores[k] = p;
                    sum += p;
                }
            }

            float inv = (float)(1.0 / sum);
            for (int pass = 0; pass < 2; pass++)
            {
                int s = pass == 0 ? vr.Start0 : vr.Start1, e = pass == 0 ? vr.End0 : vr.End1;
                for (int k = s; k < e; k++)
                {
                    TensorPrimitives.MultiplyAdd(qkv.Slice(((rowStart + k) * stride) + vOff, headDim), scores[k] * inv, o, o);
                }
            }

            lse[((rowStart + i) * heads) + head] = max + (float)Math.Log(sum);
        }
    }

    /// <summary>
    /// Accumulates dq, dk, dv (into the matching columns of <paramref name="dQkv"/>) from dOut, recomputing
    /// p = exp(s − lse): dS = p ⊙ (dO·v − dO·o), dq = scale·Σ dS·k, dk += scale·dS·q, dv += p·dO.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> qkv, ReadOnlySpan<float> output, ReadOnlySpan<float> lse, ReadOnlySpan<float> dOut,
        int rowStart, int n, int head, int hidden, int headDim, ReadOnlySpan<KeyRange> visible, float scale, Span<float> dQkv, int heads)
    {
        int stride = 3 * hidden, qOff = head * headDim, kOff = hidden + qOff, vOff = (2 * hidden) + qOff;
        for (int i = 0; i < n; i++)
        {
            var vr = visible[i];
            if (vr.Count == 0)
            {
                continue;
            }

            int row = rowStart + i;
            var q = qkv.Slice((row * stride) + qOff, headDim);
            var dO = dOut.Slice((row * hidden) + qOff, headDim);
            float delta = TensorPrimitives.Dot(dO, output.Slice((row * hidden) + qOff, headDim));
            float l = lse[(row * heads) + head];
            var dq = dQkv.Slice((row * stride) + qOff, headDim);
            for (int pass = 0; pass < 2; pass++)
            {
                int s = pass == 0 ? vr.Start0 : vr.Start1, e = pass == 0 ? vr.End0 : vr.End1;
                for (int k = s; k < e; k++)
                {
                    int krow = rowStart + k;
                    var key = qkv.Slice((krow * stride) + kOff, headDim);
                    var val = qkv.Slice((krow * stride) + vOff, headDim);
                    float p = MathF.Exp((TensorPrimitives.Dot(q, key) * scale) - l);
                    float dP = TensorPrimitives.Dot(dO, val);
                    float dS = p * (dP - delta) * scale;
                    TensorPrimitives.MultiplyAdd(key, dS, dq, dq);
                    var dk = dQkv.Slice((krow * stride) + kOff, headDim);
                    TensorPrimitives.MultiplyAdd(q, dS, dk, dk);
                    var dv = dQkv.Slice((krow * stride) + vOff, headDim);
                    TensorPrimitives.MultiplyAdd(dO, p, dv, dv);
                }
            }
        }
    }

    private static float[] Scratch(int n)
    {
        var s = _scratch;
        if (s is null || s.Length < n)
        {
            s = new float[Math.Max(n, 256)];
            _scratch = s;
        }

        return s;
    }
}
