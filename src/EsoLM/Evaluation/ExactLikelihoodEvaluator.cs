using EsoLM.Backends;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Training;

namespace EsoLM.Evaluation;

/// <summary>One generation order σ shared by a batch (spec §2.3).</summary>
/// <param name="SortIndex">Slot i is original position SortIndex[i]; slots from <paramref name="DiffusionCount"/> on are ascending.</param>
/// <param name="DiffusionCount">n_d ~ Binomial(L, α0): the slots decoded "by diffusion" (random order).</param>
internal sealed record DecodingOrder(int[] SortIndex, int DiffusionCount);

/// <summary>
/// The importance-weighted "exact" likelihood of spec §2.3 (reference <c>_importance_weighted_loss</c>): for each of K
/// orders, n_d ~ Binomial(L, α0) and a random permutation whose tail [n_d:] is sorted ascending, ONE order shared by the
/// batch; log p(x | σ) is the exact log-likelihood of generating x one token per step in order σ, computed in one
/// sequential-mode (2L) forward with z all-mask; log p̂(x) = logsumexp_k log p(x | σ_k) − log K, a lower bound on log p(x)
/// that tightens (in expectation) as K grows. Each batch draws its own K orders from (seed, batch index, k), so the
/// orders of K are a prefix of the orders of K' &gt; K (nested). For the bidirectional MDLM baseline
/// (<see cref="EsoLmVariant.Mdlm"/>) there is no sequential mode: log p(x | σ) takes L diffusion-mode forwards, step i
/// seeing x at σ(&lt;i) and masks elsewhere.
/// </summary>
public static class ExactLikelihoodEvaluator
{
    /// <summary>Draws order <paramref name="orderIndex"/> of batch <paramref name="batchIndex"/>.</summary>
    internal static DecodingOrder DrawOrder(int length, double alpha0, ulong seed, long batchIndex, int orderIndex)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(orderIndex);
        if (!(alpha0 >= 0 && alpha0 <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(alpha0), alpha0, "α0 must be in [0, 1].");
        }

        int row = orderIndex;
        int nd = 0;
        for (int i = 0; i < length; i++)
        {
            nd += EsoLmObjective.Uniform(seed, batchIndex, row, i, 11) < alpha0 ? 1 : 0;
        }

        var perm = new int[length];
        for (int i = 0; i < length; i++)
        {
            perm[i] = i;
        }

        for (int i = length - 1; i > 0; i--)
        {
            int j = (int)(EsoLmObjective.Uniform(seed, batchIndex, row, i, 12) * (i + 1));
            (perm[i], perm[j]) = (perm[j], perm[i]);
        }

        Array.Sort(perm, nd, length - nd);
        return new DecodingOrder(perm, nd);
    }

    /// <summary>
    /// log p(x | σ) for each of <paramref name="batch"/> rows of x [batch, length] (original order) under one shared order.
    /// Variants A and B use the sequential (2L) mode with z all-mask (clean count 0, so A's prefix-LM mask equals B's, as in
    /// the reference); <see cref="EsoLmVariant.Mdlm"/> uses L bidirectional diffusion-mode passes.
    /// </summary>
    /// <param name="graph">A graph over the model (reused between calls; no gradients are computed).</param>
    /// <param name="variant">The variant the model was trained as.</param>
    /// <param name="x">Clean rows, original order.</param>
    /// <param name="batch">Rows.</param>
    /// <param name="length">L.</param>
    /// <param name="order">The order.</param>
    /// <param name="logLikelihood">Receives log p(x_b | σ) per row (natural log).</param>
    /// <param name="scratch">Reusable batch buffer (optional).</param>
    internal static void OrderLogLikelihoods(ITrainingGraph graph, EsoLmVariant variant, ReadOnlySpan<int> x, int batch, int length, DecodingOrder order,
        Span<double> logLikelihood, TrainingBatch? scratch = null) =>
        OrderLogLikelihoods(graph, EsoLmMaskPolicy.Of(variant), x, batch, length, order, logLikelihood, scratch);

    /// <summary>
    /// log p(x | σ) for each row under one shared order, with the key ranges of <paramref name="policy"/>: its sequential
    /// (2L) masks with z all-mask (clean count 0), or, for the bidirectional MDLM policy (no sequential mode), L
    /// diffusion-mode passes with its diffusion masks.
    /// </summary>
    /// <param name="graph">A graph over the model.</param>
    /// <param name="policy">The mask policy the model was trained with.</param>
    /// <param name="x">Clean rows, original order.</param>
    /// <param name="batch">Rows.</param>
    /// <param name="length">L.</param>
    /// <param name="order">The order.</param>
    /// <param name="logLikelihood">Receives log p(x_b | σ) per row.</param>
    /// <param name="scratch">Reusable batch buffer (optional).</param>
    internal static void OrderLogLikelihoods(ITrainingGraph graph, IAttentionMaskPolicy policy, ReadOnlySpan<int> x, int batch, int length,
        DecodingOrder order, Span<double> logLikelihood, TrainingBatch? scratch = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(order);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        if (x.Length != batch * length)
        {
            throw new ArgumentException($"x has {x.Length} ids; expected batch {batch} × length {length}.", nameof(x));
        }

        if (order.SortIndex.Length != length)
        {
            throw new ArgumentException($"The order has {order.SortIndex.Length} slots; expected {length}.", nameof(order));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(logLikelihood.Length, batch, nameof(logLikelihood));
        int mask = graph.Network.Config.MaskTokenId;
        var tb = scratch ?? new TrainingBatch();
        var sigma = order.SortIndex;
        if (policy.Variant == EsoLmVariant.Mdlm)
        {
            MdlmOrder(graph, policy, x, batch, length, sigma, mask, logLikelihood, tb);
            return;
        }

        int n2 = 2 * length;
        var tokens = new int[n2];
        var positions = new int[n2];
        var targets = new int[n2];
        var weights = new float[n2];
        var ranges = new KeyRange[n2];
        policy.Sequential(length, 0, ranges);
        tb.Clear();
        for (int b = 0; b < batch; b++)
        {
            var row = x.Slice(b * length, length);
            for (int i = 0; i < length; i++)
            {
                int p = sigma[i];
                tokens[i] = mask;
                tokens[length + i] = row[p];
                positions[i] = positions[length + i] = p;
                targets[i] = targets[length + i] = row[p];
                weights[i] = 1f;
                weights[length + i] = 0f;
            }

            tb.Add(tokens, positions, ranges, targets, weights);
        }

        graph.Run(tb, (IGradients?)null);
        var losses = graph.RowLosses;
        for (int b = 0; b < batch; b++)
        {
            double s = 0;
            for (int i = 0; i < length; i++)
            {
                s += losses[(b * n2) + i];
            }

            logLikelihood[b] = -s;
        }
    }

    /// <summary>log p̂ = logsumexp(<paramref name="orderLogLikelihoods"/>) − log K.</summary>
    internal static double LogMeanExp(ReadOnlySpan<double> orderLogLikelihoods)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(orderLogLikelihoods.Length, 1, nameof(orderLogLikelihoods));
        double max = double.NegativeInfinity;
        foreach (var v in orderLogLikelihoods)
        {
            max = Math.Max(max, v);
        }

        if (double.IsNegativeInfinity(max))
        {
            return max;
        }

        double s = 0;
        foreach (var v in orderLogLikelihoods)
        {
            s += Math.Exp(v - max);
        }

        return max + Math.Log(s) - Math.Log(orderLogLikelihoods.Length);
    }

    /// <summary>
    /// log p(x | σ_k) for every row and every order k &lt; <paramref name="orders"/>: [rows, orders]. Batches of
    /// <paramref name="batchSize"/> rows share their orders (drawn per batch).
    /// </summary>
    public static double[,] OrderLogLikelihoods(INetwork model, EsoLmVariant variant, double alpha0, int rowCount, int length,
        Func<int, ReadOnlyMemory<int>> row, int orders, int batchSize = 16, ulong seed = 1, IProgress<EvaluationProgress>? progress = null,
        CancellationToken cancellationToken = default) =>
        OrderLogLikelihoods(model, EsoLmMaskPolicy.Of(variant), alpha0, rowCount, length, row, orders, batchSize, seed, progress, cancellationToken);

    /// <summary>log p(x | σ_k) for every row and order, with the key ranges of <paramref name="policy"/>: [rows, orders].</summary>
    public static double[,] OrderLogLikelihoods(INetwork model, IAttentionMaskPolicy policy, double alpha0, int rowCount, int length,
        Func<int, ReadOnlyMemory<int>> row, int orders, int batchSize = 16, ulong seed = 1, IProgress<EvaluationProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(row);
        ArgumentOutOfRangeException.ThrowIfLessThan(rowCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(orders, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, model.Config.ContextLength);
        var graph = model.CreateTrainingGraph();
        var tb = new TrainingBatch();
        var result = new double[rowCount, orders];
        var x = new int[batchSize * length];
        var ll = new double[batchSize];
        int batches = (rowCount + batchSize - 1) / batchSize;
        for (int start = 0, batchIndex = 0; start < rowCount; start += batchSize, batchIndex++)
        {
            int b = Math.Min(batchSize, rowCount - start);
            for (int j = 0; j < b; j++)
            {
                var r = row(start + j);
                if (r.Length != length)
                {
                    throw new ArgumentException($"Row {start + j} has {r.Length} tokens; expected {length}.", nameof(row));
                }

                r.Span.CopyTo(x.AsSpan(j * length, length));
            }

            for (int k = 0; k < orders; k++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var order = DrawOrder(length, alpha0, seed, batchIndex, k);
                OrderLogLikelihoods(graph, policy, x.AsSpan(0, b * length), b, length, order, ll, tb);
                for (int j = 0; j < b; j++)
                {
                    result[start + j, k] = ll[j];
                }
            }

            progress?.Report(new EvaluationProgress(batchIndex + 1, batches));
        }

        return result;
    }

    /// <summary>Combines per-order log-likelihoods [rows, K] into the IW perplexity (every row counts L tokens).</summary>
    internal static ExactLikelihoodResult Combine(double[,] orderLogLikelihoods, int length)
    {
        ArgumentNullException.ThrowIfNull(orderLogLikelihoods);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        int rows = orderLogLikelihoods.GetLength(0), k = orderLogLikelihoods.GetLength(1);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1, nameof(orderLogLikelihoods));
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1, nameof(orderLogLikelihoods));
        var buf = new double[k];
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < k; j++)
            {
                buf[j] = orderLogLikelihoods[r, j];
            }

            total += LogMeanExp(buf);
        }

        long tokens = (long)rows * length;
        double nll = -total / tokens;
        return new ExactLikelihoodResult(Math.Exp(nll), nll, k, tokens);
    }

    /// <summary>
    /// The IW perplexity of <paramref name="rowCount"/> rows with <paramref name="orders"/> orders per batch
    /// (<paramref name="alpha0"/> and <paramref name="variant"/>: the model's training settings). Use the EMA weights.
    /// </summary>
    public static ExactLikelihoodResult Evaluate(INetwork model, EsoLmVariant variant, double alpha0, int rowCount, int length,
        Func<int, ReadOnlyMemory<int>> row, int orders, int batchSize = 16, ulong seed = 1, IProgress<EvaluationProgress>? progress = null,
        CancellationToken cancellationToken = default) =>
        Combine(OrderLogLikelihoods(model, variant, alpha0, rowCount, length, row, orders, batchSize, seed, progress, cancellationToken), length);

    /// <summary>The IW perplexity with the key ranges of <paramref name="policy"/> (the model's training mask policy).</summary>
    public static ExactLikelihoodResult Evaluate(INetwork model, IAttentionMaskPolicy policy, double alpha0, int rowCount, int length,
        Func<int, ReadOnlyMemory<int>> row, int orders, int batchSize = 16, ulong seed = 1, IProgress<EvaluationProgress>? progress = null,
        CancellationToken cancellationToken = default) =>
        Combine(OrderLogLikelihoods(model, policy, alpha0, rowCount, length, row, orders, batchSize, seed, progress, cancellationToken), length);

    private static void MdlmOrder(ITrainingGraph graph, IAttentionMaskPolicy policy, ReadOnlySpan<int> x, int batch, int length, int[] sigma, int mask, Span<double> logLikelihood,
        TrainingBatch tb)
    {
        // rank[p] = the step at which original position p is decoded.
        var rank = new int[length];
        for (int i = 0; i < length; i++)
        {
            rank[sigma[i]] = i;
        }

        var tokens = new int[length];
        var positions = new int[length];
        var targets = new int[length];
        var weights = new float[length];
        var ranges = new KeyRange[length];
        policy.Diffusion(length, 0, ranges);
        for (int i = 0; i < length; i++)
        {
            positions[i] = i;
        }

        // Chunk the L·batch sequences so one pass holds about 16k rows.
        int stepsPerPass = Math.Max(1, 16384 / length);
        for (int b = 0; b < batch; b++)
        {
            var row = x.Slice(b * length, length);
            row.CopyTo(targets);
            double s = 0;
            for (int first = 0; first < length; first += stepsPerPass)
            {
                int count = Math.Min(stepsPerPass, length - first);
                tb.Clear();
                for (int step = first; step < first + count; step++)
                {
                    for (int p = 0; p < length; p++)
                    {
                        tokens[p] = rank[p] < step ? row[p] : mask;
                        weights[p] = rank[p] == step ? 1f : 0f;
                    }

                    tb.Add(tokens, positions, ranges, targets, weights);
                }

                graph.Run(tb, (IGradients?)null);
                var losses = graph.RowLosses;
                for (int step = 0; step < count; step++)
                {
                    s += losses[(step * length) + sigma[first + step]];
                }
            }

            logLikelihood[b] = -s;
        }
    }
}
