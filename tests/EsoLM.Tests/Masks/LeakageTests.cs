using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Tests.Modeling;
using EsoLM.Training;

namespace EsoLM.Tests.Masks;

/// <summary>
/// Behavioural leakage tests: the network is run on a batch of rows with different clean sets and orders, one input
/// token is perturbed, and every output is compared. What a position may see is derived here from the rules of spec §3
/// (not from <see cref="MaskRules"/>), closed over the network's layers: a position that cannot see the perturbed slot
/// through any chain of attention must keep bit-identical outputs, a position that sees it directly must change, and the
/// other rows of the batch must not move at all. The reference implementation builds variant-A masks from batch row 0
/// only; the rows here have different clean counts, so per-row masks are checked.
/// </summary>
public sealed class LeakageTests
{
    private const int Length = 8;
    private static readonly int[] CleanCounts = [2, 5, 3, 0];
    private static readonly ModelConfig Config = CachedForwardTests.TinyConfig(vocab: 23, mask: 5, length: 16);
    private static readonly DiffusionTransformer Model = new(ModelParameters.CreateRandom(Config, 21, 0.3f), new ComputeContext(1));

    /// <summary>Direct visibility allowed[q, k] written from spec §3 (slots in permuted order; sequential: 2L slots, z then x).</summary>
    private static bool[,] Direct(EsoLmVariant variant, bool sequential, int c)
    {
        int n = sequential ? 2 * Length : Length;
        var allowed = new bool[n, n];
        for (int q = 0; q < n; q++)
        {
            for (int k = 0; k < n; k++)
            {
                allowed[q, k] = !sequential
                    ? k <= q || (variant == EsoLmVariant.A && q < c && k < c)
                    : q < Length
                        ? k == q || (k >= Length && k - Length < q)
                        : (k >= Length && k - Length <= q - Length) || (variant == EsoLmVariant.A && q < Length + c && k >= Length && k < Length + c);
            }
        }

        return allowed;
    }

    /// <summary>Whether information can flow from slot k to slot q through <paramref name="layers"/> attention layers.</summary>
    private static bool[,] Reach(bool[,] direct, int layers)
    {
        int n = direct.GetLength(0);
        var reach = (bool[,])direct.Clone();
        for (int l = 1; l < layers; l++)
        {
            var next = new bool[n, n];
            for (int q = 0; q < n; q++)
            {
                for (int m = 0; m < n; m++)
                {
                    if (!direct[q, m])
                    {
                        continue;
                    }

                    for (int k = 0; k < n; k++)
                    {
                        next[q, k] |= reach[m, k];
                    }
                }
            }

            reach = next;
        }

        return reach;
    }

    private static int[][] Orders(int seed)
    {
        var rng = new Random(seed);
        return [.. CleanCounts.Select(_ => Enumerable.Range(0, Length).OrderBy(_ => rng.Next()).ToArray())];
    }

    /// <summary>A token other than <paramref name="token"/> and other than the mask id.</summary>
    private static int OtherToken(int token)
    {
        int t = (token + 7) % Config.VocabSize;
        return t == Config.MaskTokenId ? (t + 1) % Config.VocabSize : t;
    }

    [Theory]
    [InlineData(EsoLmVariant.A, false)]
    [InlineData(EsoLmVariant.B, false)]
    [InlineData(EsoLmVariant.A, true)]
    [InlineData(EsoLmVariant.B, true)]
    public void Inference_forward_sees_exactly_what_the_mask_allows_per_row(EsoLmVariant variant, bool sequential)
    {
        int batch = CleanCounts.Length, slots = sequential ? 2 * Length : Length, v = Config.VocabSize, mask = Config.MaskTokenId;
        var orders = Orders(sequential ? 2 : 1);
        var rng = new Random(5);
        var positions = orders.SelectMany(o => o).ToArray();

        // Row b in slot order: z (clean first, then masks) and, for the sequential mode, the x-copy (every token clean).
        var x = new int[batch * Length];
        var z = new int[batch * Length];
        for (int b = 0; b < batch; b++)
        {
            for (int s = 0; s < Length; s++)
            {
                x[(b * Length) + s] = OtherToken(rng.Next(v));
                z[(b * Length) + s] = s < CleanCounts[b] ? x[(b * Length) + s] : mask;
            }
        }

        float[] Run(int[] zIn, int[] xIn)
        {
            var logits = new float[batch * Length * v];
            var session = new ModelSession(Model, batch, slots);
            if (sequential)
            {
                session.Sequential(variant, batch, Length, zIn, xIn, positions, CleanCounts, logits);
            }
            else
            {
                session.Diffusion(variant, batch, Length, zIn, positions, CleanCounts, logits);
            }

            return logits;
        }

        var baseline = Run(z, x);
        int mustChange = 0, mustStay = 0;
        for (int row = 0; row < batch; row++)
        {
            var reach = Reach(Direct(variant, sequential, CleanCounts[row]), Config.Layers);
            var direct = Direct(variant, sequential, CleanCounts[row]);
            for (int slot = 0; slot < slots; slot++)
            {
                var z2 = (int[])z.Clone();
                var x2 = (int[])x.Clone();
                if (slot < Length)
                {
                    int i = (row * Length) + slot;
                    z2[i] = OtherToken(z[i] == mask ? x[i] : z[i]);
                }
                else
                {
                    int i = (row * Length) + slot - Length;
                    x2[i] = OtherToken(x[i]);
                }

                var perturbed = Run(z2, x2);
                for (int b = 0; b < batch; b++)
                {
                    for (int q = 0; q < Length; q++)
                    {
                        var before = baseline.AsSpan(((b * Length) + q) * v, v);
                        var after = perturbed.AsSpan(((b * Length) + q) * v, v);
                        if (b != row || !reach[q, slot])
                        {
                            Assert.True(before.SequenceEqual(after),
                                $"{variant} {(sequential ? "sequential" : "diffusion")}: row {b} slot {q} changed when row {row} slot {slot} was perturbed");
                            mustStay++;
                        }
                        else if (direct[q, slot])
                        {
                            Assert.False(before.SequenceEqual(after),
                                $"{variant} {(sequential ? "sequential" : "diffusion")}: row {b} slot {q} must see row {row} slot {slot} but did not change");
                            mustChange++;
                        }
                    }
                }
            }
        }

        Assert.True(mustChange > 0 && mustStay > 0);
    }

    [Theory]
    [InlineData(EsoLmVariant.A)]
    [InlineData(EsoLmVariant.B)]
    public void Training_loss_rows_see_exactly_what_the_mask_allows_per_row(EsoLmVariant variant)
    {
        // A batch of diffusion rows and sequential rows (each with its own clean count and order) through the objective
        // and the training graph: per-row losses at masked slots are functions of what those slots may see.
        int rows = 2 * CleanCounts.Length, mask = Config.MaskTokenId, v = Config.VocabSize;
        var objective = new EsoLmObjective(new ObjectiveOptions { Variant = variant, Alpha0 = 0.5 }, mask);
        var graph = new TrainingGraph(Model);
        var rng = new Random(11);
        var x = Enumerable.Range(0, rows * Length).Select(_ => OtherToken(rng.Next(v))).ToArray();
        var orders = Orders(3).Concat(Orders(4)).ToArray();
        var corruption = new RowCorruption[rows];
        for (int b = 0; b < rows; b++)
        {
            int c = CleanCounts[b % CleanCounts.Length];
            var noisy = new int[Length];
            for (int s = 0; s < Length; s++)
            {
                int p = orders[b][s];
                noisy[p] = s < c ? x[(b * Length) + p] : mask;
            }

            corruption[b] = new RowCorruption(Sequential: b >= CleanCounts.Length, Time: 0.5, noisy, orders[b]);
        }

        float[] Losses(int[] clean, RowCorruption[] rowsIn)
        {
            var batch = new TrainingBatch();
            objective.Build(clean, rows, Length, rowsIn, batch, forEvaluation: true);
            graph.Run(batch, null);
            return graph.RowLosses.ToArray();
        }

        static int RowStart(int b) => b < CleanCounts.Length ? b * Length : (CleanCounts.Length * Length) + ((b - CleanCounts.Length) * 2 * Length);

        var baseline = Losses(x, corruption);

        // Exact per row: each row's losses equal the same row run alone (a batch of one, where "row 0" is the row).
        for (int b = 0; b < rows; b++)
        {
            var single = new TrainingBatch();
            objective.Build(x.AsSpan(b * Length, Length), 1, Length, [corruption[b]], single, forEvaluation: true);
            graph.Run(single, null);
            var alone = graph.RowLosses.ToArray();
            for (int q = 0; q < alone.Length; q++)
            {
                Assert.True(Math.Abs(alone[q] - baseline[RowStart(b) + q]) <= 1e-4 * (1 + Math.Abs(alone[q])),
                    $"{variant}: row {b} slot {q} loss {baseline[RowStart(b) + q]} in the batch, {alone[q]} alone");
            }
        }

        int mustChange = 0, mustStay = 0;
        for (int row = 0; row < rows; row++)
        {
            bool sequential = row >= CleanCounts.Length;
            int c = CleanCounts[row % CleanCounts.Length];
            var direct = Direct(variant, sequential, c);
            var reach = Reach(direct, Config.Layers);
            for (int slot = 0; slot < Length; slot++)
            {
                // Perturb the clean token at this slot's original position: the network input changes at the slot (if
                // clean) and, in a sequential row, at its x-copy; a masked slot's own target changes too.
                int p = orders[row][slot];
                var x2 = (int[])x.Clone();
                x2[(row * Length) + p] = OtherToken(x[(row * Length) + p]);
                var rows2 = (RowCorruption[])corruption.Clone();
                var noisy2 = (int[])corruption[row].Noisy.Clone();
                if (slot < c)
                {
                    noisy2[p] = x2[(row * Length) + p];
                }

                rows2[row] = corruption[row] with { Noisy = noisy2 };
                var changed = new List<int>();
                if (slot < c)
                {
                    changed.Add(slot);
                }

                if (sequential)
                {
                    changed.Add(Length + slot);
                }

                var perturbed = Losses(x2, rows2);
                for (int b = 0; b < rows; b++)
                {
                    int cb = CleanCounts[b % CleanCounts.Length];
                    for (int q = cb; q < Length; q++) // loss rows: the masked slots (z-part in sequential rows)
                    {
                        if (b == row && q == slot)
                        {
                            continue; // its own target changed
                        }

                        float before = baseline[RowStart(b) + q], after = perturbed[RowStart(b) + q];
                        if (b != row || !changed.Any(k => reach[q, k]))
                        {
                            Assert.True(BitConverter.SingleToInt32Bits(before) == BitConverter.SingleToInt32Bits(after),
                                $"{variant}: row {b} slot {q} loss changed when row {row} slot {slot} was perturbed");
                            mustStay++;
                        }
                        else if (changed.Any(k => direct[q, k]))
                        {
                            Assert.True(before != after, $"{variant}: row {b} slot {q} must see row {row} slot {slot} but its loss did not change");
                            mustChange++;
                        }
                    }
                }
            }
        }

        Assert.True(mustChange > 0 && mustStay > 0);
    }
}
