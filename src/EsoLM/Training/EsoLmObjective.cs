using EsoLM.Backends;
using EsoLM.Randomness;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;

namespace EsoLM.Training;

/// <summary>How one row of a batch is corrupted for the objective.</summary>
/// <param name="Sequential">True for the sequential (AR) term, false for the diffusion term.</param>
/// <param name="Time">Diffusion time t (diffusion rows only).</param>
/// <param name="Noisy">The noisy sequence z_t (diffusion) or z0 (sequential), in original order.</param>
/// <param name="SortIndex">The permutation: slot i holds original position SortIndex[i]; clean positions come first.</param>
internal sealed record RowCorruption(bool Sequential, double Time, int[] Noisy, int[] SortIndex);

/// <summary>The value of the objective on one batch.</summary>
/// <param name="Loss">Per-token NELBO estimate: diffusion term per diffusion token + sequential term per sequential token.</param>
/// <param name="DiffusionLoss">Σ of the diffusion term over its rows (unnormalised).</param>
/// <param name="SequentialLoss">Σ of the sequential term over its rows (unnormalised).</param>
/// <param name="DiffusionTokens">Tokens in the diffusion rows.</param>
/// <param name="SequentialTokens">Tokens in the sequential rows.</param>
internal readonly record struct ObjectiveValue(double Loss, double DiffusionLoss, double SequentialLoss, int DiffusionTokens, int SequentialTokens)
{
    /// <summary>Tokens the loss is normalised over for perplexity bookkeeping (diffusion tokens, or sequential ones if there are none).</summary>
    public int NumTokens => DiffusionTokens > 0 ? DiffusionTokens : SequentialTokens;
}

/// <summary>
/// The Eso-LM training objective (spec §2): the first split·B rows feed the diffusion term (stratified t, z_t ~ q_t,
/// clean-first permutation, causal (B) or mixed2 (A) attention, ELBO or unweighted CE at masked slots), the other rows
/// feed the sequential term (z0 ~ q_{α0}, masks in natural order, 2L input [z0 ; x] under the sequential mask, CE at
/// masked z-rows, no shift-by-one). Each term is normalised by its own token count and the two are summed. α0 = 0 gives
/// plain AR training and α0 = 1 MDLM-style training through the same code. Random draws are keyed by (seed, step, row,
/// position), so a batch's corruption does not depend on threads or on what ran before.
/// </summary>
internal sealed class EsoLmObjective
{
    private readonly TrainingBatch _batch = new();
    private KeyRange[] _ranges = [];
    private int[] _tokens = [];
    private int[] _positions = [];
    private int[] _targets = [];
    private float[] _weights = [];
    private Plan? _plan;

    /// <summary>Creates the objective for a model with the given mask id.</summary>
    public EsoLmObjective(ObjectiveOptions options, int maskTokenId)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfNegative(maskTokenId);
        Options = options;
        MaskTokenId = maskTokenId;
    }

    /// <summary>The settings.</summary>
    public ObjectiveOptions Options { get; }

    /// <summary>The mask id.</summary>
    public int MaskTokenId { get; }

    /// <summary>Rows (out of <paramref name="batch"/>) that feed the diffusion term: int(split·B) as in the reference.</summary>
    public int DiffusionRows(int batch) => (int)(Options.EffectiveBatchSplit * batch);

    /// <summary>Draws the corruption of every row of a batch of clean sequences x [batch, length] (original order).</summary>
    public RowCorruption[] Sample(ReadOnlySpan<int> x, int batch, int length, ulong seed, long step)
    {
        CheckInput(x, batch, length);
        var plan = new Plan(batch, length);
        SampleInto(x, batch, length, seed, step, plan);
        var rows = new RowCorruption[batch];
        for (int b = 0; b < batch; b++)
        {
            rows[b] = new RowCorruption(plan.Sequential[b], plan.Time[b], plan.Noisy.AsSpan(b * length, length).ToArray(),
                plan.SortIndex.AsSpan(b * length, length).ToArray());
        }

        return rows;
    }

    /// <summary>
    /// Fills <paramref name="output"/> with the network input, key ranges, targets and loss weights of a corrupted batch;
    /// each term's weights include its 1/#tokens normaliser.
    /// </summary>
    public void Build(ReadOnlySpan<int> x, int batch, int length, IReadOnlyList<RowCorruption> corruption, TrainingBatch output,
        bool forEvaluation = false)
    {
        CheckInput(x, batch, length);
        ArgumentNullException.ThrowIfNull(output);
        BuildFrom(x, batch, length, FromRows(corruption, batch, length), output, forEvaluation);
    }

    /// <summary>
    /// Samples the corruption, runs the graph and (when <paramref name="gradients"/> is given) accumulates the gradient of
    /// <see cref="ObjectiveValue.Loss"/>. Steady state allocates nothing: the corruption buffers are reused.
    /// </summary>
    public ObjectiveValue Evaluate(ITrainingGraph graph, ReadOnlySpan<int> x, int batch, int length, ulong seed, long step,
        IGradients? gradients, bool forEvaluation = false)
    {
        ArgumentNullException.ThrowIfNull(graph);
        CheckInput(x, batch, length);
        if (_plan is null || _plan.Batch != batch || _plan.Length != length)
        {
            _plan = new Plan(batch, length);
        }

        var prof = (graph.Network as DiffusionTransformer)?.Profile;
        long t = prof is null ? 0 : StepProfile.Start();
        SampleInto(x, batch, length, seed, step, _plan);
        DiffusionTransformer.Mark(prof, StepPhase.Data, t);
        return Run(graph, x, batch, length, _plan, gradients, forEvaluation);
    }

    /// <summary>Runs the graph on a given corruption (e.g. one recorded by the reference implementation).</summary>
    public ObjectiveValue Evaluate(ITrainingGraph graph, ReadOnlySpan<int> x, int batch, int length, IReadOnlyList<RowCorruption> corruption,
        IGradients? gradients, bool forEvaluation = false)
    {
        ArgumentNullException.ThrowIfNull(graph);
        CheckInput(x, batch, length);
        return Run(graph, x, batch, length, FromRows(corruption, batch, length), gradients, forEvaluation);
    }

    private ObjectiveValue Run(ITrainingGraph graph, ReadOnlySpan<int> x, int batch, int length, Plan plan, IGradients? gradients, bool forEvaluation)
    {
        var prof = (graph.Network as DiffusionTransformer)?.Profile;
        long t = prof is null ? 0 : StepProfile.Start();
        BuildFrom(x, batch, length, plan, _batch, forEvaluation);
        DiffusionTransformer.Mark(prof, StepPhase.Data, t);
        graph.Run(_batch, gradients);
        var rowLoss = graph.RowLosses;
        var weights = _batch.Weights;
        double diff = 0, seq = 0;
        int row = 0, diffRows = 0;
        for (int b = 0; b < batch; b++)
        {
            bool sequential = plan.Sequential[b];
            int n = sequential ? 2 * length : length;
            double w = sequential ? 1.0 : TermWeight(plan.Time[b], forEvaluation);
            diffRows += sequential ? 0 : 1;
            for (int i = 0; i < n; i++)
            {
                if (weights[row + i] != 0)
                {
                    if (sequential)
                    {
                        seq += rowLoss[row + i];
                    }
                    else
                    {
                        diff += w * rowLoss[row + i];
                    }
                }
            }

            row += n;
        }

        int diffTokens = diffRows * length, seqTokens = (batch - diffRows) * length;
        double loss = (diffTokens > 0 ? diff / diffTokens : 0) + (seqTokens > 0 ? seq / seqTokens : 0);
        return new ObjectiveValue(loss, diff, seq, diffTokens, seqTokens);
    }

    private double TermWeight(double t, bool forEvaluation) =>
        Options.Weighting == LossWeighting.Elbo || forEvaluation ? -Options.Schedule.ElboWeight(t, Options.Alpha0) : 1.0;

    private void SampleInto(ReadOnlySpan<int> x, int batch, int length, ulong seed, long step, Plan plan)
    {
        int split = DiffusionRows(batch);
        double alpha0 = Options.Alpha0, eps = Options.SamplingEpsilon;
        for (int b = 0; b < batch; b++)
        {
            var row = x.Slice(b * length, length);
            var z = plan.Noisy.AsSpan(b * length, length);
            bool sequential = b >= split;
            double t = 0, keep;
            if (sequential)
            {
                keep = alpha0;
            }
            else
            {
                // Stratified ("antithetic") time: one draw per stratum of the diffusion rows.
                double u = Uniform(seed, step, b, -1, 0);
                double e = ((u / split) + ((double)b / split)) % 1.0;
                t = ((1 - eps) * e) + eps;
                keep = Options.Schedule.Alpha(t, alpha0);
            }

            for (int i = 0; i < length; i++)
            {
                z[i] = Uniform(seed, step, b, i, 1) < keep ? row[i] : MaskTokenId;
            }

            plan.Sequential[b] = sequential;
            plan.Time[b] = t;
            bool shuffle = sequential ? Options.EffectiveSequentialShuffle : Options.DiffusionShuffle;
            SortIndex(z, shuffle, masksInOrder: sequential || !shuffle, seed, step, b, plan.Keys, plan.SortIndex.AsSpan(b * length, length));
        }
    }

    private void BuildFrom(ReadOnlySpan<int> x, int batch, int length, Plan plan, TrainingBatch output, bool forEvaluation)
    {
        int diffRows = 0;
        for (int b = 0; b < batch; b++)
        {
            diffRows += plan.Sequential[b] ? 0 : 1;
        }

        int seqRows = batch - diffRows;
        double diffNorm = diffRows > 0 ? 1.0 / (diffRows * length) : 0, seqNorm = seqRows > 0 ? 1.0 / (seqRows * length) : 0;
        EnsureScratch(2 * length);
        output.Clear();
        var policy = Options.EffectiveMaskPolicy;
        for (int b = 0; b < batch; b++)
        {
            var row = x.Slice(b * length, length);
            var noisy = plan.Noisy.AsSpan(b * length, length);
            var sort = plan.SortIndex.AsSpan(b * length, length);
            int clean = 0;
            for (int i = 0; i < length; i++)
            {
                clean += noisy[sort[i]] != MaskTokenId ? 1 : 0;
            }

            if (!plan.Sequential[b])
            {
                double w = TermWeight(plan.Time[b], forEvaluation);
                for (int i = 0; i < length; i++)
                {
                    int p = sort[i];
                    _tokens[i] = noisy[p];
                    _positions[i] = p;
                    _targets[i] = row[p];
                    _weights[i] = noisy[p] == MaskTokenId ? (float)(w * diffNorm) : 0f;
                }

                policy.Diffusion(length, clean, _ranges);

                output.Add(_tokens.AsSpan(0, length), _positions.AsSpan(0, length), _ranges.AsSpan(0, length), _targets.AsSpan(0, length),
                    _weights.AsSpan(0, length));
            }
            else
            {
                for (int i = 0; i < length; i++)
                {
                    int p = sort[i];
                    _tokens[i] = noisy[p];
                    _tokens[length + i] = row[p];
                    _positions[i] = _positions[length + i] = p;
                    _targets[i] = _targets[length + i] = row[p];
                    _weights[i] = noisy[p] == MaskTokenId ? (float)seqNorm : 0f;
                    _weights[length + i] = 0f;
                }

                policy.Sequential(length, clean, _ranges);
                output.Add(_tokens.AsSpan(0, 2 * length), _positions.AsSpan(0, 2 * length), _ranges.AsSpan(0, 2 * length),
                    _targets.AsSpan(0, 2 * length), _weights.AsSpan(0, 2 * length));
            }
        }
    }

    private static Plan FromRows(IReadOnlyList<RowCorruption> corruption, int batch, int length)
    {
        ArgumentNullException.ThrowIfNull(corruption);
        if (corruption.Count != batch)
        {
            throw new ArgumentException($"Expected {batch} row corruptions, got {corruption.Count}.", nameof(corruption));
        }

        var plan = new Plan(batch, length);
        for (int b = 0; b < batch; b++)
        {
            var c = corruption[b];
            if (c.Noisy.Length != length || c.SortIndex.Length != length)
            {
                throw new ArgumentException($"Row {b}: Noisy and SortIndex must have {length} entries.", nameof(corruption));
            }

            plan.Sequential[b] = c.Sequential;
            plan.Time[b] = c.Time;
            c.Noisy.CopyTo(plan.Noisy, b * length);
            c.SortIndex.CopyTo(plan.SortIndex, b * length);
        }

        return plan;
    }

    private void SortIndex(ReadOnlySpan<int> z, bool shuffle, bool masksInOrder, ulong seed, long step, int row, double[] keys, Span<int> idx)
    {
        int n = z.Length;
        for (int i = 0; i < n; i++)
        {
            bool masked = z[i] == MaskTokenId;
            double tie = masked ? (masksInOrder ? 0.9 * i / Math.Max(1, n - 1) : 0.9 * Uniform(seed, step, row, i, 2))
                : (shuffle ? 0.9 * Uniform(seed, step, row, i, 3) : 0.9 * i / Math.Max(1, n - 1));
            keys[i] = (masked ? 1 : 0) + tie;
            idx[i] = i;
        }

        keys.AsSpan(0, n).Sort(idx);
    }

    /// <summary>Reusable corruption buffers of one batch shape.</summary>
    private sealed class Plan(int batch, int length)
    {
        public int Batch { get; } = batch;

        public int Length { get; } = length;

        public bool[] Sequential { get; } = new bool[batch];

        public double[] Time { get; } = new double[batch];

        public int[] Noisy { get; } = new int[batch * length];

        public int[] SortIndex { get; } = new int[batch * length];

        public double[] Keys { get; } = new double[length];
    }

    private void CheckInput(ReadOnlySpan<int> x, int batch, int length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        if (x.Length != batch * length)
        {
            throw new ArgumentException($"x has {x.Length} ids; expected batch {batch} × length {length}.", nameof(x));
        }

        for (int i = 0; i < x.Length; i++)
        {
            if (x[i] == MaskTokenId)
            {
                throw new ArgumentException($"Clean data contains the mask id {MaskTokenId} at index {i}.", nameof(x));
            }
        }
    }

    private void EnsureScratch(int n)
    {
        if (_ranges.Length < n)
        {
            _ranges = new KeyRange[n];
            _tokens = new int[n];
            _positions = new int[n];
            _targets = new int[n];
            _weights = new float[n];
        }
    }

    /// <summary>A uniform double in [0, 1) keyed by (seed, step, row, position, purpose).</summary>
    internal static double Uniform(ulong seed, long step, int row, int position, int purpose)
    {
        return CounterHash.Unit(CounterHash.Key(seed, (ulong)step, ((ulong)(uint)row << 32) | (uint)position, (ulong)(uint)purpose));
    }
}
