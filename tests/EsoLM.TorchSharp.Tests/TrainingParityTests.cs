using EsoLM.Backends;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Training;
using static EsoLM.TorchSharp.Tests.TorchTestSupport;

namespace EsoLM.TorchSharp.Tests;

/// <summary>Autograd training on torch against the managed backend's hand-written backward, optimizer and EMA.</summary>
public sealed class TrainingParityTests
{
    [Theory]
    [InlineData(EsoLmVariant.A, 0.5)]
    [InlineData(EsoLmVariant.B, 0.5)]
    [InlineData(EsoLmVariant.B, 1.0)]
    public void Gradients_match_managed_within_1e4_relative(EsoLmVariant variant, double alpha0)
    {
        var p = RandomModel(21, std: 0.1f);
        var (batch, _) = ObjectiveBatch(p.Config, variant, alpha0, seed: 9, step: 3);
        var managed = Managed.Load(p.Clone());
        using var torch = (TorchNetwork)Torch.Load(p);
        var gm = managed.CreateGradients();
        var gt = torch.CreateGradients();
        var mGraph = managed.CreateTrainingGraph();
        var tGraph = torch.CreateTrainingGraph();
        var rm = mGraph.Run(batch, gm);
        var rt = tGraph.Run(batch, gt);
        Assert.Equal(rm.LossRows, rt.LossRows);
        Assert.Equal(rm.Loss, rt.Loss, 1e-5 * Math.Abs(rm.Loss));
        Assert.True(MaxAbsDiff(tGraph.RowLosses, mGraph.RowLosses) <= 1e-4);

        // Relative to each tensor's gradient scale (max |g|), the torch autograd gradient equals the hand-written backward.
        var hm = gm.CopyToHost();
        var ht = gt.CopyToHost();
        for (int i = 0; i < hm.Tensors.Count; i++)
        {
            var a = ht.Tensors[i].Data;
            var e = hm.Tensors[i].Data;
            double scale = Math.Max(e.Max(x => Math.Abs(x)), 1e-30);
            double diff = MaxAbsDiff(a, e);
            Assert.True(diff <= 1e-4 * scale, $"{hm.Tensors[i].Name}: max |diff| {diff:G3} vs scale {scale:G3}");
        }

        Assert.Equal(gm.Norm(), gt.Norm(), 1e-4 * gm.Norm());

        // Accumulation: a second pass doubles the buffer.
        tGraph.Run(batch, gt);
        Assert.Equal(2 * ht.Tensors[1].Data[0], gt.CopyToHost().Tensors[1].Data[0], 1e-4 * Math.Abs(ht.Tensors[1].Data[0]) + 1e-9);
    }

    [Fact]
    public void Twenty_training_steps_give_the_same_loss_curve_and_weights()
    {
        var p = RandomModel(22, std: 0.05f);
        var managed = Managed.Load(p.Clone());
        using var torch = (TorchNetwork)Torch.Load(p);
        var mCurve = Train(managed, 20, out var mState);
        var tCurve = Train(torch, 20, out var tState);
        for (int s = 0; s < mCurve.Length; s++)
        {
            Assert.True(Math.Abs(mCurve[s] - tCurve[s]) <= 1e-3, $"step {s + 1}: managed loss {mCurve[s]}, torch {tCurve[s]}");
        }

        Assert.True(mCurve[^1] < mCurve[0], "the loss decreases");
        var ms = mState.CopyToHost();
        var ts = tState.CopyToHost();
        Assert.Equal(ms.OptimizerSteps, ts.OptimizerSteps);
        Assert.Equal(ms.EmaUpdates, ts.EmaUpdates);
        foreach (var (a, e, what) in new[] { (ts.Parameters, ms.Parameters, "weights"), (ts.Ema, ms.Ema, "EMA") })
        {
            for (int i = 0; i < e.Tensors.Count; i++)
            {
                double diff = MaxAbsDiff(a.Tensors[i].Data, e.Tensors[i].Data);
                Assert.True(diff <= 1e-4, $"{what} {e.Tensors[i].Name}: max |diff| {diff:G3}");
            }
        }
    }

    [Fact]
    public void Training_state_moves_between_backends_and_continues_identically()
    {
        // 10 steps on the managed backend, restore the snapshot (the checkpoint content) on torch, 10 more on each:
        // both continuations agree, so a checkpoint saved by one backend resumes on the other.
        var p = RandomModel(23, std: 0.05f);
        var managed = Managed.Load(p.Clone());
        Train(managed, 10, out var mState);
        var snapshot = mState.CopyToHost();
        using var torch = (TorchNetwork)Torch.Load(snapshot.Parameters);
        var tState = torch.CreateTrainingState(new AdamWOptions(), 0.99);
        tState.Restore(snapshot);
        var mCurve = Continue(managed, mState, 10, 10);
        var tCurve = Continue(torch, tState, 10, 10);
        for (int s = 0; s < mCurve.Length; s++)
        {
            Assert.True(Math.Abs(mCurve[s] - tCurve[s]) <= 1e-3, $"step {s + 11}: managed {mCurve[s]}, torch {tCurve[s]}");
        }

        var back = tState.CopyToHost();
        var m2 = mState.CopyToHost();
        for (int i = 0; i < back.Parameters.Tensors.Count; i++)
        {
            Assert.True(MaxAbsDiff(back.Parameters.Tensors[i].Data, m2.Parameters.Tensors[i].Data) <= 1e-4);
            Assert.True(MaxAbsDiff(back.SecondMoment.Tensors[i].Data, m2.SecondMoment.Tensors[i].Data) <= 1e-6);
        }
    }

    [Fact]
    public void Dropout_masks_are_the_managed_ones()
    {
        var p = RandomModel(24, std: 0.1f);
        var (batch, _) = ObjectiveBatch(p.Config, EsoLmVariant.B, 0.5, seed: 4, step: 1);
        var managed = Managed.Load(p.Clone());
        using var torch = (TorchNetwork)Torch.Load(p);
        var mg = managed.CreateTrainingGraph();
        var tg = torch.CreateTrainingGraph();
        mg.DropoutRate = tg.DropoutRate = 0.3f;
        mg.DropoutSeed = tg.DropoutSeed = 77;
        var gm = managed.CreateGradients();
        var gt = torch.CreateGradients();
        var rm = mg.Run(batch, gm);
        var rt = tg.Run(batch, gt);
        Assert.Equal(rm.Loss, rt.Loss, 1e-5 * Math.Abs(rm.Loss));
        Assert.Equal(gm.Norm(), gt.Norm(), 1e-4 * gm.Norm());
    }

    internal static (TrainingBatch Batch, EsoLmObjective Objective) ObjectiveBatch(ModelConfig cfg, EsoLmVariant variant, double alpha0, ulong seed, long step,
        int rows = 4, int length = 10)
    {
        var rng = new Random((int)seed);
        var x = Enumerable.Range(0, rows * length).Select(_ => NonMask(rng, cfg)).ToArray();
        var objective = new EsoLmObjective(new ObjectiveOptions { Alpha0 = alpha0, BatchSplit = 0.5, Variant = variant }, cfg.MaskTokenId);
        var batch = new TrainingBatch();
        objective.Build(x, rows, length, objective.Sample(x, rows, length, seed, step), batch);
        return (batch, objective);
    }

    private static double[] Train(INetwork net, int steps, out ITrainingState state)
    {
        state = net.CreateTrainingState(new AdamWOptions(), 0.99);
        return Continue(net, state, 0, steps);
    }

    /// <summary>The trainer's step: objective batch → loss and gradients → clip at 1 → AdamW (lr 3e-3) → EMA.</summary>
    private static double[] Continue(INetwork net, ITrainingState state, int from, int steps)
    {
        var graph = net.CreateTrainingGraph();
        var grads = net.CreateGradients();
        var curve = new double[steps];
        for (int s = 0; s < steps; s++)
        {
            var (batch, _) = ObjectiveBatch(net.Config, EsoLmVariant.B, 0.5, seed: 100, step: from + s);
            grads.Clear();
            curve[s] = graph.Run(batch, grads).Loss;
            double norm = grads.Norm();
            if (norm > 1.0)
            {
                grads.Scale((float)(1.0 / (norm + 1e-6)));
            }

            state.Update(grads, 3e-3);
            state.UpdateEma();
        }

        return curve;
    }
}
