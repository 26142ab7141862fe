using System.Collections.Concurrent;
using EsoLM.Backends;
using EsoLM.Modeling;
using EsoLM.Training;

namespace EsoLM.Tests.Backends;

/// <summary>
/// A second compute backend written only against the PUBLIC backend contract (no internals): it wraps another backend,
/// hands out its own cache, workspace and gradient handles, rebuilds every <see cref="ForwardBatch"/> and
/// <see cref="TrainingBatch"/> from their public row views before delegating, and records every call. Samplers,
/// the trainer and the evaluators run on it unchanged; the tests compare its results with the wrapped backend's.
/// </summary>
internal sealed class RecordingBackend(IComputeBackend inner) : IComputeBackend
{
    public ConcurrentQueue<string> Calls { get; } = new();

    public IComputeBackend Inner { get; } = inner;

    public string Name => "recording";

    public BackendDescription Description => Inner.Description with { Backend = Name };

    public int Count(string call) => Calls.Count(c => c == call);

    public INetwork Load(ModelParameters parameters)
    {
        Calls.Enqueue("Load");
        return new Network(this, Inner.Load(parameters));
    }

    private sealed class Cache(IKvCache inner) : IKvCache
    {
        public IKvCache Inner { get; } = inner;

        public int Capacity => Inner.Capacity;

        public int Length { get => Inner.Length; set => Inner.Length = value; }

        public long SizeInBytes => Inner.SizeInBytes;

        public void Reset() => Inner.Reset();
    }

    private sealed class Workspace(IForwardWorkspace inner) : IForwardWorkspace
    {
        public IForwardWorkspace Inner { get; } = inner;

        public ForwardBatch Batch { get; } = new();

        public long SizeInBytes => Inner.SizeInBytes;
    }

    private sealed class Gradients(IGradients inner) : IGradients
    {
        public IGradients Inner { get; } = inner;

        public void Clear() => Inner.Clear();

        public double Norm() => Inner.Norm();

        public void Scale(float factor) => Inner.Scale(factor);

        public ModelParameters CopyToHost() => Inner.CopyToHost();
    }

    private sealed class Network(RecordingBackend backend, INetwork inner) : INetwork
    {
        public IComputeBackend Backend => backend;

        public ModelConfig Config => inner.Config;

        public long ParameterBytes => inner.ParameterBytes;

        public int HostThreads => inner.HostThreads;

        public ModelParameters CopyParametersToHost() => inner.CopyParametersToHost();

        public void LoadParameters(ModelParameters parameters)
        {
            backend.Calls.Enqueue("LoadParameters");
            inner.LoadParameters(parameters);
        }

        public IKvCache CreateCache(int capacity)
        {
            backend.Calls.Enqueue("CreateCache");
            return new Cache(inner.CreateCache(capacity));
        }

        public IForwardWorkspace CreateWorkspace() => new Workspace(inner.CreateWorkspace());

        public void Forward(ForwardBatch batch, IForwardWorkspace workspace, ForwardOutput output, Span<float> destination)
        {
            backend.Calls.Enqueue("Forward");
            var ws = (Workspace)workspace;
            var rebuilt = ws.Batch;
            rebuilt.Clear();
            var tokens = batch.Tokens;
            var positions = batch.Positions;
            var visible = batch.Visible;
            foreach (var w in batch.Windows)
            {
                rebuilt.Add(((Cache)w.Cache).Inner, w.WriteSlot, tokens.Slice(w.RowStart, w.RowCount), positions.Slice(w.RowStart, w.RowCount),
                    visible.Slice(w.RowStart, w.RowCount), w.OutputStart, w.OutputCount);
            }

            inner.Forward(rebuilt, ws.Inner, output, destination);
        }

        public ITrainingGraph CreateTrainingGraph() => new Graph(backend, this, inner.CreateTrainingGraph());

        public IGradients CreateGradients() => new Gradients(inner.CreateGradients());

        public ITrainingState CreateTrainingState(AdamWOptions optimizer, double emaDecay) =>
            new State(backend, this, inner.CreateTrainingState(optimizer, emaDecay));
    }

    private sealed class Graph(RecordingBackend backend, INetwork network, ITrainingGraph inner) : ITrainingGraph
    {
        private readonly TrainingBatch _batch = new();

        public INetwork Network => network;

        public float DropoutRate { get => inner.DropoutRate; set => inner.DropoutRate = value; }

        public ulong DropoutSeed { get => inner.DropoutSeed; set => inner.DropoutSeed = value; }

        public ReadOnlySpan<float> RowLosses => inner.RowLosses;

        public TrainingPassResult Run(TrainingBatch batch, IGradients? gradients)
        {
            backend.Calls.Enqueue(gradients is null ? "Run" : "RunBackward");
            _batch.Clear();
            foreach (var (start, count) in batch.Sequences)
            {
                _batch.Add(batch.Tokens.Slice(start, count), batch.Positions.Slice(start, count), batch.Visible.Slice(start, count),
                    batch.Targets.Slice(start, count), batch.Weights.Slice(start, count));
            }

            return inner.Run(_batch, gradients is null ? null : ((Gradients)gradients).Inner);
        }
    }

    private sealed class State(RecordingBackend backend, INetwork network, ITrainingState inner) : ITrainingState
    {
        public INetwork Network => network;

        public long OptimizerSteps => inner.OptimizerSteps;

        public long EmaUpdates => inner.EmaUpdates;

        public void Update(IGradients gradients, double learningRate)
        {
            backend.Calls.Enqueue("Update");
            inner.Update(((Gradients)gradients).Inner, learningRate);
        }

        public void UpdateEma()
        {
            backend.Calls.Enqueue("UpdateEma");
            inner.UpdateEma();
        }

        public TrainingStateSnapshot CopyToHost() => inner.CopyToHost();

        public void Restore(TrainingStateSnapshot snapshot) => inner.Restore(snapshot);

        public ModelParameters CopyEmaToHost() => inner.CopyEmaToHost();
    }
}
