using EsoLM.Backends;
using EsoLM.Modeling;
using EsoLM.Randomness;
using EsoLM.Training;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EsoLM.TorchSharp;

/// <summary>
/// The training loss graph on the device: the same layer loop as inference (each sequence attends within itself under its
/// key ranges), the zero-masked weighted cross-entropy at the loss rows, and autograd's backward, accumulated into a
/// <see cref="TorchGradients"/>. Only the per-row losses come back to the host.
/// </summary>
internal sealed class TorchTrainingGraph(TorchNetwork network) : ITrainingGraph
{
    private float[] _rowLoss = [];

    public INetwork Network => network;

    public float DropoutRate { get; set; }

    public ulong DropoutSeed { get; set; }

    public ReadOnlySpan<float> RowLosses => _rowLoss;

    public TrainingPassResult Run(TrainingBatch batch, IGradients? gradients)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (!(DropoutRate >= 0 && DropoutRate < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(batch), DropoutRate, "DropoutRate must be in [0, 1).");
        }

        var grads = gradients is null ? null : TorchGradients.Of(gradients, network, nameof(gradients));
        var model = network.Model;
        var cfg = model.Config;
        int d = cfg.HiddenSize, v = cfg.VocabSize;
        int rows = batch.RowCount, count = batch.SequenceCount;
        if (_rowLoss.Length != rows)
        {
            _rowLoss = new float[rows];
        }

        Array.Clear(_rowLoss);
        if (rows == 0)
        {
            return new TrainingPassResult(0, 0);
        }

        var tokens = batch.Tokens;
        var positions = batch.Positions;
        var visible = batch.Visible;
        var targets = batch.Targets;
        var weights = batch.Weights;
        int nmax = 0;
        foreach (var (_, n) in batch.Sequences)
        {
            nmax = Math.Max(nmax, n);
        }

        var tok = new long[count * nmax];
        var pos = new long[count * nmax];
        var ranges = new int[count * nmax * 4];
        var rowOf = new int[count * nmax];
        Array.Fill(rowOf, -1);
        var lossRows = new List<int>();
        var lossIdx = new List<long>();
        var lossTargets = new List<long>();
        var lossWeights = new List<float>();
        for (int s = 0; s < count; s++)
        {
            var (start, n) = batch.Sequences[s];
            for (int i = 0; i < nmax; i++)
            {
                int pr = (s * nmax) + i;
                if (i >= n)
                {
                    ranges[4 * pr] = i;
                    ranges[(4 * pr) + 1] = i + 1;
                    continue;
                }

                int r = start + i;
                if ((uint)tokens[r] >= (uint)v)
                {
                    throw new ArgumentOutOfRangeException(nameof(batch), tokens[r], $"Token id {tokens[r]} at row {r} is outside the vocabulary [0, {v}).");
                }

                if ((uint)positions[r] >= (uint)cfg.ContextLength)
                {
                    throw new ArgumentOutOfRangeException(nameof(batch), positions[r], $"Position {positions[r]} at row {r} is outside the context [0, {cfg.ContextLength}).");
                }

                tok[pr] = tokens[r];
                pos[pr] = positions[r];
                rowOf[pr] = r;
                var k = visible[r];
                ranges[4 * pr] = k.Start0;
                ranges[(4 * pr) + 1] = k.End0;
                ranges[(4 * pr) + 2] = k.Start1;
                ranges[(4 * pr) + 3] = k.End1;
                if (weights[r] != 0)
                {
                    if ((uint)targets[r] >= (uint)v || targets[r] == cfg.MaskTokenId)
                    {
                        throw new ArgumentOutOfRangeException(nameof(batch), targets[r], $"Target {targets[r]} at row {r} must be a non-mask id in [0, {v}).");
                    }

                    lossRows.Add(r);
                    lossIdx.Add(pr);
                    lossTargets.Add(targets[r]);
                    lossWeights.Add(weights[r]);
                }
            }
        }

        if (lossRows.Count == 0)
        {
            return new TrainingPassResult(0, 0);
        }

        using var scope = NewDisposeScope();
        var nll = LossOnDevice(model, grads, count, nmax, tok, pos, ranges, rowOf, lossIdx, lossTargets, lossWeights);
        var host = TorchTensors.ToArray(nll);
        double total = 0;
        for (int i = 0; i < host.Length; i++)
        {
            _rowLoss[lossRows[i]] = host[i];
            total += lossWeights[i] * (double)host[i];
        }

        return new TrainingPassResult(total, lossRows.Count);
    }

    /// <summary>
    /// The device part of <see cref="Run"/>: uploads the pass's indices in one copy (and, with dropout, every layer's keep
    /// masks in one more, before the layer loop), runs the layers, the loss rows' cross-entropy and, with gradients,
    /// backward. Returns the per-loss-row NLL on the device. It never reads device memory from the host, so it also runs
    /// on PyTorch's data-less <c>meta</c> device (the tests use that to prove it).
    /// </summary>
    internal Tensor LossOnDevice(TorchDiffusionTransformer model, TorchGradients? grads, int count, int nmax, long[] tok, long[] pos, int[] ranges, int[] rowOf,
        List<long> lossIdx, List<long> lossTargets, List<float> lossWeights)
    {
        var cfg = model.Config;
        int d = cfg.HiddenSize;
        var dev = model.Device;
        using var gradMode = enable_grad(grads is not null);
        var upload = new HostUpload();
        int oTok = upload.Add(tok), oPos = upload.Add(pos), oRanges = upload.Add(ranges);
        int oLoss = upload.Add(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(lossIdx));
        int oTargets = upload.Add(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(lossTargets));
        int oMaskId = upload.Add([(long)cfg.MaskTokenId]);
        var all = upload.Upload(dev);
        var tTok = HostUpload.Part(all, oTok, count * nmax).view(count, nmax);
        var tPos = HostUpload.Part(all, oPos, count * nmax).view(count, nmax);
        var mask = TorchTensors.MaskFromRanges(HostUpload.Part(all, oRanges, count * nmax * 4).view(count, nmax, 4), nmax);
        var tLoss = HostUpload.Part(all, oLoss, lossIdx.Count);
        var tTargets = HostUpload.Part(all, oTargets, lossTargets.Count);
        var maskColumn = HostUpload.Part(all, oMaskId, 1);
        var tWeights = grads is null ? null : tensor(lossWeights.ToArray(), ScalarType.Float32, dev);

        // With gradients the conditioning is recomputed in this pass's scope (it is part of the autograd graph).
        var cond = model.GetConditioning(grad: grads is not null);

        Func<int, int, Tensor?>? dropout = null;
        if (DropoutRate > 0)
        {
            // Every layer's keep masks reach the device in one copy before the loop (not one upload per layer inside it).
            var keepAll = DropoutMasks(cfg.Layers, count, nmax, rowOf, d, dev);
            float keep = 1f / (1f - DropoutRate);
            dropout = (layer, which) => keepAll[layer, which].to_type(ScalarType.Float32).mul_(keep);
        }

        var h = model.Trunk(tTok, tPos, mask, cond, (_, k, vv) => (k, vv), dropout);
        var selected = TorchTensors.Rows(h.reshape(count * nmax, d), tLoss);
        var logits = model.Head(selected, cond);
        var logp = F.log_softmax(logits.index_fill(1, maskColumn, -1e6f), -1);
        var nll = logp.gather(1, tTargets.unsqueeze(1)).squeeze(1).neg();
        if (grads is not null)
        {
            var loss = (nll * tWeights!).sum();
            loss.backward();
            grads.Accumulate(model);
        }

        return nll;
    }

    /// <summary>
    /// The managed graph's counter-based dropout keep-masks for every layer and both branches, [layers, 2, B, n, d] bytes
    /// (1 = keep, 0 = drop; padding rows keep), uploaded in one copy.
    /// </summary>
    private Tensor DropoutMasks(int layers, int count, int nmax, int[] rowOf, int d, Device device)
    {
        long per = (long)count * nmax * d;
        var m = new byte[layers * 2 * per];
        for (int layer = 0; layer < layers; layer++)
        {
            for (int which = 0; which < 2; which++)
            {
                long baseIndex = ((layer * 2) + which) * per;
                for (int pr = 0; pr < rowOf.Length; pr++)
                {
                    int r = rowOf[pr];
                    for (int i = 0; i < d; i++)
                    {
                        bool kept = r < 0
                            || CounterHash.Unit(CounterHash.Key(DropoutSeed, ((ulong)(uint)layer << 1) | (uint)which, (uint)r, (uint)i)) >= DropoutRate;
                        m[baseIndex + (pr * d) + i] = kept ? (byte)1 : (byte)0;
                    }
                }
            }
        }

        return tensor(m, [layers, 2, count, nmax, d], ScalarType.Byte, device);
    }
}

/// <summary>Gradients of every parameter as device tensors, in registration order.</summary>
internal sealed class TorchGradients : IGradients
{
    private readonly TorchNetwork _network;

    public TorchGradients(TorchNetwork network)
    {
        _network = network;
        Values = network.Model.Parameters.Select(p => zeros_like(p).requires_grad_(false)).ToArray();
        foreach (var t in Values)
        {
            t.DetachFromDisposeScope();
        }
    }

    public Tensor[] Values { get; }

    public void Clear()
    {
        using var _ = no_grad();
        foreach (var t in Values)
        {
            t.zero_();
        }
    }

    public double Norm()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var total = zeros(1, ScalarType.Float64, _network.Device);
        foreach (var t in Values)
        {
            total = total + t.to_type(ScalarType.Float64).square().sum();
        }

        return total.sqrt().cpu().item<double>();
    }

    public void Scale(float factor)
    {
        using var _ = no_grad();
        foreach (var t in Values)
        {
            t.mul_(factor);
        }
    }

    public ModelParameters CopyToHost()
    {
        var p = ModelParameters.CreateZero(_network.Config);
        for (int i = 0; i < Values.Length; i++)
        {
            TorchTensors.CopyToHost(Values[i], p.Tensors[i].Data);
        }

        return p;
    }

    /// <summary>Adds the parameters' autograd gradients and clears them.</summary>
    public void Accumulate(TorchDiffusionTransformer model)
    {
        using var _ = no_grad();
        for (int i = 0; i < Values.Length; i++)
        {
            var g = model.Parameters[i].grad;
            if (g is not null)
            {
                Values[i].add_(g);
                g.zero_();
            }
        }
    }

    internal static TorchGradients Of(IGradients gradients, TorchNetwork network, string argument) =>
        gradients is TorchGradients g && ReferenceEquals(g._network, network)
            ? g
            : throw new ArgumentException("The gradient buffer was not created by this torch network (INetwork.CreateGradients).", argument);
}

/// <summary>AdamW moments and the EMA shadow on the device; the arithmetic of the managed <see cref="AdamW"/> and EMA.</summary>
internal sealed class TorchTrainingState : ITrainingState
{
    private readonly TorchNetwork _network;
    private readonly AdamWOptions _options;
    private readonly double _decay;
    private readonly Tensor[] _m;
    private readonly Tensor[] _v;
    private readonly Tensor[] _ema;

    public TorchTrainingState(TorchNetwork network, AdamWOptions options, double emaDecay)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!(emaDecay >= 0 && emaDecay < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(emaDecay), emaDecay, "The EMA decay must be in [0, 1).");
        }

        _network = network;
        _options = options;
        _decay = emaDecay;
        using var _ = no_grad();
        var ps = network.Model.Parameters;
        _m = ps.Select(p => zeros_like(p).requires_grad_(false).DetachFromDisposeScope()).ToArray();
        _v = ps.Select(p => zeros_like(p).requires_grad_(false).DetachFromDisposeScope()).ToArray();
        _ema = ps.Select(p => p.detach().clone().DetachFromDisposeScope()).ToArray();
    }

    public INetwork Network => _network;

    public long OptimizerSteps { get; private set; }

    public long EmaUpdates { get; private set; }

    public void Update(IGradients gradients, double learningRate)
    {
        var g = TorchGradients.Of(gradients, _network, nameof(gradients));
        OptimizerSteps++;
        float b1 = (float)_options.Beta1, b2 = (float)_options.Beta2;
        double bc1 = 1 - Math.Pow(_options.Beta1, OptimizerSteps), bc2 = 1 - Math.Pow(_options.Beta2, OptimizerSteps);
        float stepSize = (float)(learningRate / bc1);
        float sqrtBc2 = (float)Math.Sqrt(bc2);
        float eps = (float)_options.Epsilon;
        float decay = (float)(1 - (learningRate * _options.WeightDecay));
        var ps = _network.Model.Parameters;
        using (NewDisposeScope())
        using (no_grad())
        {
            for (int i = 0; i < ps.Count; i++)
            {
                if (_options.WeightDecay != 0)
                {
                    ps[i].mul_(decay);
                }

                _m[i].mul_(b1).add_(g.Values[i], 1 - b1);
                _v[i].mul_(b2).addcmul_(g.Values[i], g.Values[i], 1 - b2);
                ps[i].addcdiv_(_m[i], _v[i].sqrt().div_(sqrtBc2).add_(eps), -stepSize);
            }
        }

        _network.Model.InvalidateConditioning();
    }

    public void UpdateEma()
    {
        EmaUpdates++;
        float d = (float)Math.Min(_decay, (1.0 + EmaUpdates) / (10.0 + EmaUpdates));
        float oneMinus = 1f - d;
        var ps = _network.Model.Parameters;
        using (NewDisposeScope())
        using (no_grad())
        {
            for (int i = 0; i < ps.Count; i++)
            {
                _ema[i].sub_(_ema[i].sub(ps[i]).mul_(oneMinus));
            }
        }
    }

    public TrainingStateSnapshot CopyToHost() => new(_network.CopyParametersToHost(), Host(_ema), Host(_m), Host(_v), OptimizerSteps, EmaUpdates);

    public void Restore(TrainingStateSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        _network.LoadParameters(snapshot.Parameters);
        Upload(snapshot.Ema, _ema);
        Upload(snapshot.FirstMoment, _m);
        Upload(snapshot.SecondMoment, _v);
        OptimizerSteps = snapshot.OptimizerSteps;
        EmaUpdates = snapshot.EmaUpdates;
    }

    public ModelParameters CopyEmaToHost() => Host(_ema);

    private ModelParameters Host(Tensor[] values)
    {
        var p = ModelParameters.CreateZero(_network.Config);
        for (int i = 0; i < values.Length; i++)
        {
            TorchTensors.CopyToHost(values[i], p.Tensors[i].Data);
        }

        return p;
    }

    private void Upload(ModelParameters source, Tensor[] into)
    {
        if (source.Config != _network.Config)
        {
            throw new ArgumentException("The snapshot belongs to a different model config.", nameof(source));
        }

        using var _ = no_grad();
        for (int i = 0; i < into.Length; i++)
        {
            var t = source.Tensors[i];
            using var src = tensor(t.Data, t.Shape.Select(s => (long)s).ToArray(), ScalarType.Float32, CPU);
            into[i].copy_(src);
        }
    }
}
