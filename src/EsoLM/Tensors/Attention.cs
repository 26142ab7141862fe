namespace EsoLM.Tensors;

/// <summary>Scaled dot-product attention of one head over a key/value buffer, with per-query visible key ranges.</summary>
public static class Attention
{
    /// <summary>
    /// For each of <paramref name="queryCount"/> queries (row r at r·<paramref name="queryStride"/> in
    /// <paramref name="queries"/>, width <paramref name="headDim"/>): out = softmax(q·kᵀ·<paramref name="scale"/>)·v over
    /// the key slots <paramref name="visible"/>[r]. Keys and values are [slots, headDim] row-major buffers of one head.
    /// A query with no visible key gets a zero output. Single-threaded; callers parallelise over heads and sequences.
    /// </summary>
    public static void AttendHead(SimdLevel simd, ReadOnlySpan<float> queries, int queryStride, int queryCount,
        ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int headDim, ReadOnlySpan<KeyRange> visible,
        Span<float> output, int outputStride, float scale)
    {
        _ = simd;
        var scores = new float[keys.Length / headDim];
        for (int r = 0; r < queryCount; r++)
        {
            var q = queries.Slice(r * queryStride, headDim);
            var o = output.Slice(r * outputStride, headDim);
            o.Clear();
            var vr = visible[r];
            if (vr.Count == 0)
            {
                continue;
            }

            float max = float.NegativeInfinity;
            for (int pass = 0; pass < 2; pass++)
            {
                int s = pass == 0 ? vr.Start0 : vr.Start1, e = pass == 0 ? vr.End0 : vr.End1;
                for (int kk = s; kk < e; kk++)
                {
                    float dot = 0;
                    for (int d = 0; d < headDim; d++)
                    {
                        dot += q[d] * keys[kk * headDim + d];
                    }

                    scores[kk] = dot * scale;
                    max = MathF.Max(max, scores[kk]);
                }
            }

            double sum = 0;
            for (int pass = 0; pass < 2; pass++)
            {
                int s = pass == 0 ? vr.Start0 : vr.Start1, e = pass == 0 ? vr.End0 : vr.End1;
                for (int kk = s; kk < e; kk++)
                {
                    scores[kk] = MathF.Exp(scores[kk] - max);
                    sum += scores[kk];
                }
            }

            float inv = (float)(1.0 / sum);
            for (int pass = 0; pass < 2; pass++)
            {
                int s = pass == 0 ? vr.Start0 : vr.Start1, e = pass == 0 ? vr.End0 : vr.End1;
                for (int kk = s; kk < e; kk++)
                {
                    float w = scores[kk] * inv;
                    for (int d = 0; d < headDim; d++)
                    {
                        o[d] += w * values[kk * headDim + d];
                    }
                }
            }
        }
    }
}
