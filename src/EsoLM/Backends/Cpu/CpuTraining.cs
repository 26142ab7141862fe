using System.Numerics.Tensors;
using EsoLM.Modeling;
using EsoLM.Training;

namespace EsoLM.Backends.Cpu;

/// <summary>Gradients of the CPU backend: one host <see cref="ModelParameters"/>.</summary>
internal sealed class CpuGradients(ModelConfig config) : IGradients
{
    public ModelParameters Values { get; } = ModelParameters.CreateZero(config);

    public void Clear() => Values.Clear();

    public double Norm()
    {
        double s = 0;
        foreach (var t in Values.Tensors)
        {
            s += TensorPrimitives.SumOfSquares(t.Data);
        }

        return Math.Sqrt(s);
    }

    public void Scale(float factor)
    {
        foreach (var t in Values.Tensors)
        {
            TensorPrimitives.Multiply(t.Data, factor, t.Data);
        }
    }

    public ModelParameters CopyToHost() => Values.Clone();

    internal static ModelParameters Of(IGradients gradients, ModelConfig config, string argument) =>
        gradients is CpuGradients g && g.Values.Config == config
            ? g.Values
            : throw new ArgumentException("The gradient buffer was not created by this CPU network (INetwork.CreateGradients).", argument);
}

/// <summary>AdamW moments and the EMA shadow of a CPU network, on host arrays.</summary>
internal sealed class CpuTrainingState : ITrainingState
{
    private readonly DiffusionTransformer _network;
    private readonly AdamW _optimizer;
    private readonly ExponentialMovingAverage _ema;
    private readonly IReadOnlyDictionary<int, Tensors.PackedMatrix> _packed;

    public CpuTrainingState(DiffusionTransformer network, AdamWOptions optimizer, double emaDecay)
    {
        _network = network;
        _optimizer = new AdamW(network.Config, optimizer);
        _ema = new ExponentialMovingAverage(network.Parameters, emaDecay);
        _packed = network.PackedByTensor();
    }

    public INetwork Network => _network;

    public long OptimizerSteps => _optimizer.StepCount;

    public long EmaUpdates => _ema.UpdateCount;

    public void Update(IGradients gradients, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(gradients);
        var prof = _network.Profile;
        long t = prof is null ? 0 : StepProfile.Start();
        // The optimizer re-packs each weight chunk it has just updated (in cache, on the worker threads); only the small
        // conditioning and adaLN modulations are re-derived afterwards.
        _optimizer.Step(_network.Compute, _network.Parameters, CpuGradients.Of(gradients, _network.Config, nameof(gradients)), learningRate, _packed);
        t = DiffusionTransformer.Mark(prof, StepPhase.Optimizer, t);
        _network.RefreshConditioning();
        DiffusionTransformer.Mark(prof, StepPhase.Repack, t);
    }

    public void UpdateEma()
    {
        var prof = _network.Profile;
        long t = prof is null ? 0 : StepProfile.Start();
        _ema.Update(_network.Compute, _network.Parameters);
        DiffusionTransformer.Mark(prof, StepPhase.Ema, t);
    }

    public TrainingStateSnapshot CopyToHost() => new(_network.Parameters.Clone(), _ema.Shadow.Clone(), _optimizer.FirstMoment.Clone(),
        _optimizer.SecondMoment.Clone(), _optimizer.StepCount, _ema.UpdateCount);

    public void Restore(TrainingStateSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        _network.LoadParameters(snapshot.Parameters);
        _ema.Shadow.CopyFrom(snapshot.Ema);
        _ema.UpdateCount = snapshot.EmaUpdates;
        _optimizer.FirstMoment.CopyFrom(snapshot.FirstMoment);
        _optimizer.SecondMoment.CopyFrom(snapshot.SecondMoment);
        _optimizer.StepCount = snapshot.OptimizerSteps;
    }

    public ModelParameters CopyEmaToHost() => _ema.Shadow.Clone();
}
