using EsoLM.Backends;
using EsoLM.Modeling;
using EsoLM.Training;

namespace EsoLM.Evaluation;

/// <summary>
/// NELBO perplexity as the reference reports it (spec §7): the training objective with ELBO weights, the same α0 and batch
/// split as training, one (t, z_t) or z0 draw per sequence from a fixed seed, over every row; PPL = exp(Σ loss·num_tokens /
/// Σ num_tokens). Use the EMA weights.
/// </summary>
public static class NelboEvaluator
{
    /// <summary>
    /// Evaluates <paramref name="rowCount"/> rows given by <paramref name="row"/> in batches of <paramref name="batchSize"/>
    /// (each batch is split between the two terms as in training: int(split·b) diffusion rows first). The draws are keyed
    /// by (<paramref name="seed"/>, batch index, row, position), so a fixed seed gives the same number on any machine.
    /// </summary>
    public static NelboResult Evaluate(INetwork model, ObjectiveOptions options, int rowCount, int length, Func<int, ReadOnlyMemory<int>> row,
        int batchSize = 16, ulong seed = 1, CancellationToken cancellationToken = default) =>
        Evaluate(model, options, rowCount, length, row, batchSize, seed, null, cancellationToken);

    /// <summary>As <see cref="Evaluate(INetwork, ObjectiveOptions, int, int, Func{int, ReadOnlyMemory{int}}, int, ulong, CancellationToken)"/>, reporting each finished batch.</summary>
    public static NelboResult Evaluate(INetwork model, ObjectiveOptions options, int rowCount, int length, Func<int, ReadOnlyMemory<int>> row,
        int batchSize, ulong seed, IProgress<EvaluationProgress>? progress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(row);
        ArgumentOutOfRangeException.ThrowIfLessThan(rowCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var objective = new EsoLmObjective(options, model.Config.MaskTokenId);
        var graph = model.CreateTrainingGraph();
        double nlls = 0;
        long tokens = 0;
        var x = new int[batchSize * length];
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, model.Config.ContextLength);
        for (int start = 0, batchIndex = 0; start < rowCount; start += batchSize, batchIndex++)
        {
            cancellationToken.ThrowIfCancellationRequested();
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

            var value = objective.Evaluate(graph, x.AsSpan(0, b * length), b, length, seed, batchIndex, null, forEvaluation: true);
            nlls += value.Loss * value.NumTokens;
            tokens += value.NumTokens;
            progress?.Report(new EvaluationProgress(batchIndex + 1, (rowCount + batchSize - 1) / batchSize));
        }

        double perToken = nlls / tokens;
        return new NelboResult(Math.Exp(perToken), perToken, tokens);
    }
}
