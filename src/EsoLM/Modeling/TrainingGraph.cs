using EsoLM.Backends;
using EsoLM.Randomness;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using EsoLM.Tensors;
using EsoLM.Training;

namespace EsoLM.Modeling;

/// <summary>
/// Forward pass that keeps its activations, the weighted cross-entropy on the rows that carry loss, and the exact
/// backward pass into a gradient buffer for every parameter (embedding, sigma map, adaLN modulations, LayerNorm
/// weights, qkv/out projections with RoPE and masked attention, MLP, head). Plain loops over named buffers, one method
/// per layer part, as in llm.c; the matrix products go through the compute seam. One graph per training thread; the
/// buffers grow to the largest batch seen and are reused.
/// </summary>
internal sealed class TrainingGraph : ITrainingGraph
{
    private readonly DiffusionTransformer _model;
    private readonly int _d;
    private readonly int _hidden4;
    private readonly int _heads;
    private readonly int _hd;
    private readonly int _layers;
    private readonly float _eps;
    private readonly ComputeContext _single;
    private int _capacity;

    // Per layer activations.
    private float[][] _x = [];
    private float[][] _mean1 = [];
    private float[][] _rstd1 = [];
    private float[][] _a1 = [];
    private float[][] _qkv = [];
    private float[][] _att = [];
    private float[][] _o = [];
    private float[][] _mid = [];
    private float[][] _mean2 = [];
    private float[][] _rstd2 = [];
    private float[][] _a2 = [];
    private float[][] _u = [];
    private float[][] _g = [];
    private float[][] _m = [];

    // Final layer and loss rows.
    private float[] _xf = [];
    private int[] _lossRows = [];
    private float[] _chunkIn = [];
    private float[] _chunkNorm = [];
    private float[] _chunkA = [];
    private float[] _chunkStats = [];
    private float[] _logits = [];
    private float[] _dChunkA = [];
    private float[] _rowLoss = [];

    // Backward scratch.
    private float[] _dH = [];
    private float[] _dMid = [];
    private float[] _dA = [];
    private float[] _dBig = [];
    private float[] _dQkv = [];
    private float[] _dAtt = [];
    private float[] _partials = [];
    private readonly float[] _wScaled;
    private readonly float[] _onePlusScale;

    // Constants recomputed from the parameters every pass.
    private readonly float[][] _dMod;
    private readonly float[] _dFmod;

    private const int LossChunk = 256;

    // Parameter names per block, built once so a step does not allocate strings.
    private readonly string[][] _names;

    private enum Part
    {
        Norm1,
        Qkv,
        Out,
        Norm2,
        Mlp0W,
        Mlp0B,
        Mlp2W,
        Mlp2B,
        AdaW,
        AdaB,
    }

    /// <summary>Creates a graph for a model.</summary>
    public TrainingGraph(DiffusionTransformer model)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        var cfg = model.Config;
        _d = cfg.HiddenSize;
        _hidden4 = cfg.MlpHidden;
        _heads = cfg.Heads;
        _hd = cfg.HeadDim;
        _layers = cfg.Layers;
        _eps = cfg.LayerNormEps;
        _single = new ComputeContext(1, model.Compute.Simd);
        _dMod = Enumerable.Range(0, _layers).Select(_ => new float[6 * _d]).ToArray();
        _dFmod = new float[2 * _d];
        _names = Enumerable.Range(0, _layers).Select(l => new[]
        {
            $"blocks.{l}.norm1.weight", $"blocks.{l}.attn_qkv.weight", $"blocks.{l}.attn_out.weight", $"blocks.{l}.norm2.weight",
            $"blocks.{l}.mlp.0.weight", $"blocks.{l}.mlp.0.bias", $"blocks.{l}.mlp.2.weight", $"blocks.{l}.mlp.2.bias",
            $"blocks.{l}.adaLN_modulation.weight", $"blocks.{l}.adaLN_modulation.bias",
        }).ToArray();
        _wScaled = new float[_d];
        _onePlusScale = new float[_d];
        _dc = new double[cfg.CondDim];
        _dz2 = new double[cfg.CondDim];
        _ds1 = new double[cfg.CondDim];
    }

    private readonly double[] _dc;
    private readonly double[] _dz2;
    private readonly double[] _ds1;

    private string Name(int layer, Part part) => _names[layer][(int)part];

    /// <summary>The network (its packed weights must be current: call <see cref="DiffusionTransformer.RefreshFromParameters"/> after an update).</summary>
    public DiffusionTransformer Model => _model;

    /// <inheritdoc />
    public INetwork Network => _model;

    /// <inheritdoc />
    public TrainingPassResult Run(TrainingBatch batch, IGradients? gradients) =>
        RunHost(batch, gradients is null ? null : Backends.Cpu.CpuGradients.Of(gradients, _model.Config, nameof(gradients)));

    /// <summary>Dropout probability on the attention and MLP branch outputs (training only; 0 disables).</summary>
    public float DropoutRate { get; set; }

    /// <summary>Seed of the dropout masks for the next pass (derive it from the step so a resumed run draws the same masks).</summary>
    public ulong DropoutSeed { get; set; }

    /// <summary>Per-row −log p(target) of the last pass (0 at rows without loss), in batch row order.</summary>
    public ReadOnlySpan<float> RowLosses => _rowLoss;

    /// <summary>
    /// Runs the forward pass and the loss; when <paramref name="gradients"/> is given, also the backward pass,
    /// ACCUMULATING into it (clear it between steps).
    /// </summary>
    internal TrainingPassResult RunHost(TrainingBatch batch, ModelParameters? gradients)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (gradients is not null && gradients.Config != _model.Config)
        {
            throw new ArgumentException("The gradient buffer belongs to a different model config.", nameof(gradients));
        }

        int rows = batch.RowCount;
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1, nameof(batch));
        Validate(batch);
        Ensure(rows);
        ForwardLayers(batch);
        var result = LossAndHead(batch, gradients);
        if (gradients is not null)
        {
            BackwardLayers(batch, gradients);
            var prof = _model.Profile;
            long t = prof is null ? 0 : StepProfile.Start();
            BackwardConstants(gradients);
            Mark(prof, StepPhase.Conditioning, t);
        }

        return result;
    }

    private void Validate(TrainingBatch batch)
    {
        var cfg = _model.Config;
        var tokens = batch.Tokens;
        var positions = batch.Positions;
        var targets = batch.Targets;
        var weights = batch.Weights;
        for (int r = 0; r < tokens.Length; r++)
        {
            if ((uint)tokens[r] >= (uint)cfg.VocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(batch), tokens[r], $"Token id {tokens[r]} at row {r} is outside the vocabulary [0, {cfg.VocabSize}).");
            }

            if ((uint)positions[r] >= (uint)cfg.ContextLength)
            {
                throw new ArgumentOutOfRangeException(nameof(batch), positions[r], $"Position {positions[r]} at row {r} is outside the context [0, {cfg.ContextLength}).");
            }

            if (weights[r] != 0 && ((uint)targets[r] >= (uint)cfg.VocabSize || targets[r] == cfg.MaskTokenId))
            {
                throw new ArgumentOutOfRangeException(nameof(batch), targets[r],
                    $"Target {targets[r]} at row {r} must be a non-mask id in [0, {cfg.VocabSize}).");
            }
        }
    }

    private void Ensure(int rows)
    {
        if (rows > _capacity)
        {
            _capacity = Math.Max(rows, _capacity * 5 / 4);
            int r = _capacity, d = _d;
            float[][] Make(int width) => Enumerable.Range(0, _layers).Select(_ => new float[r * width]).ToArray();
            _x = Make(d);
            _mean1 = Make(1);
            _rstd1 = Make(1);
            _a1 = Make(d);
            _qkv = Make(3 * d);
            _att = Make(d);
            _o = Make(d);
            _mid = Make(d);
            _mean2 = Make(1);
            _rstd2 = Make(1);
            _a2 = Make(d);
            _u = Make(_hidden4);
            _g = Make(_hidden4);
            _m = Make(d);
            _xf = new float[r * d];
            _lossRows = new int[r];
            _rowLoss = new float[r];
            _dH = new float[r * d];
            _dMid = new float[r * d];
            _dA = new float[r * d];
            _dBig = new float[r * _hidden4];
            _dQkv = new float[r * 3 * d];
            _dAtt = new float[r * d];
            _partials = new float[TrainingKernels.Blocks(Math.Max(r, LossChunk)) * Math.Max(2 * d, _hidden4)];
        }

        if (_chunkIn.Length == 0)
        {
            _chunkIn = new float[LossChunk * _d];
            _chunkNorm = new float[LossChunk * _d];
            _chunkA = new float[LossChunk * _d];
            _chunkStats = new float[2 * LossChunk];
            _dChunkA = new float[LossChunk * _d];
            _logits = new float[LossChunk * _model.Config.VocabSize];
        }

        if (_rowLoss.Length != rows)
        {
            _rowLoss = new float[rows];
        }
    }

    /// <summary>The forward pass through the network's own layer loop, recording every block's activations.</summary>
    private void ForwardLayers(TrainingBatch batch)
    {
        var buffers = new RecordBuffers(this);
        var attention = new RecordAttention(this, batch, 1f / MathF.Sqrt(_hd));
        _model.RunBlocks(batch.RowCount, batch.Tokens, batch.Positions, ref buffers, ref attention, DropoutRate, DropoutSeed);
    }

    /// <summary>Training: each block gets its own arrays and LayerNorm statistics (the activation record).</summary>
    private readonly struct RecordBuffers(TrainingGraph g) : ILayerBuffers
    {
        public LayerBuffers Layer(int l) => new(g._x[l], g._a1[l], g._qkv[l], g._att[l], g._o[l], g._mid[l], g._a2[l], g._u[l], g._g[l], g._m[l],
            l + 1 < g._layers ? g._x[l + 1] : g._xf, g._mean1[l], g._rstd1[l], g._mean2[l], g._rstd2[l]);
    }

    /// <summary>Training attention: within each sequence, keeping the log-sum-exp for the backward pass.</summary>
    private readonly struct RecordAttention(TrainingGraph g, TrainingBatch batch, float scale) : IBlockAttention
    {
        public void Attend(int layer, float[] qkv, float[] output) => g.AttentionForward(batch, layer, scale);
    }

    private float DropMask(int layer, int which, int row, int col, float keepScale) =>
        DiffusionTransformer.DropMask(DropoutRate, DropoutSeed, layer, which, row, col, keepScale);

    private void AttentionForward(TrainingBatch batch, int l, float scale)
    {
        var body = new AttentionTask(this, batch, l, scale, backward: false);
        ParallelTasks.Run(_model.Compute, batch.SequenceCount * _heads, ref body);
    }

    /// <summary>One (sequence, head) of attention, forward or backward.</summary>
    private readonly struct AttentionTask(TrainingGraph g, TrainingBatch batch, int layer, float scale, bool backward) : ITaskBody
    {
        public void Run(int task)
        {
            var (start, count) = batch.Sequences[task / g._heads];
            int head = task % g._heads;
            var visible = batch.Visible.Slice(start, count);
            if (backward)
            {
                TrainingAttention.Backward(g._single, g._qkv[layer], g._att[layer], g._dAtt, start, count, head, g._d, g._hd, visible, scale,
                    g._dQkv);
            }
            else
            {
                TrainingAttention.Forward(g._single.Simd, g._qkv[layer], start, count, head, g._d, g._hd, visible, scale, g._att[layer]);
            }
        }
    }

    private TrainingPassResult LossAndHead(TrainingBatch batch, ModelParameters? grads)
    {
        var cfg = _model.Config;
        int d = _d, v = cfg.VocabSize, mask = cfg.MaskTokenId;
        var weights = batch.Weights;
        var targets = batch.Targets;
        int lossCount = 0;
        for (int r = 0; r < batch.RowCount; r++)
        {
            if (weights[r] != 0)
            {
                _lossRows[lossCount++] = r;
            }
        }

        Array.Clear(_rowLoss);
        if (grads is not null)
        {
            Array.Clear(_dH, 0, batch.RowCount * d);
            Array.Clear(_dFmod);
        }

        var p = _model.Parameters;
        var normW = p["output_layer.norm_final.weight"].Data;
        var headW = p["output_layer.linear.weight"].Data;
        var ctx = _model.Compute;
        var prof = _model.Profile;
        long t = prof is null ? 0 : StepProfile.Start();
        double total = 0;
        for (int start = 0; start < lossCount; start += LossChunk)
        {
            int n = Math.Min(LossChunk, lossCount - start);
            for (int i = 0; i < n; i++)
            {
                _xf.AsSpan(_lossRows[start + i] * d, d).CopyTo(_chunkIn.AsSpan(i * d, d));
            }

            t = Mark(prof, StepPhase.Residual, t);
            Normalization.LayerNormModulated(ctx, _chunkIn.AsSpan(0, n * d), _chunkA.AsSpan(0, n * d), n, d, normW, _model.FinalModulation.AsSpan(d, d),
                _model.FinalModulation.AsSpan(0, d), _eps, _chunkStats.AsSpan(0, n), _chunkStats.AsSpan(LossChunk, n));
            t = Mark(prof, StepPhase.LayerNorm, t);
            var logits = _logits.AsSpan(0, n * v);
            Gemm.MultiplyTransposed(ctx, _chunkA.AsSpan(0, n * d), n, _model.Head, p["output_layer.linear.bias"].Data, logits);
            prof?.CountGemm(n, v, d);
            t = Mark(prof, StepPhase.GemmForward, t);
            for (int i = 0; i < n; i++)
            {
                int r = _lossRows[start + i];
                var row = logits.Slice(i * v, v);
                row[mask] = -1e6f;
                Activations.LogSoftmaxInPlace(row);
                float nll = -row[targets[r]];
                _rowLoss[r] = nll;
                total += weights[r] * (double)nll;
                if (grads is not null)
                {
                    // d(w·nll)/dlogits = w·(softmax − onehot); the forced mask logit gets no gradient.
                    float w = weights[r];
                    TensorPrimitives.Exp(row, row);
                    TensorPrimitives.Multiply(row, w, row);
                    row[targets[r]] -= w;
                    row[mask] = 0;
                }
            }

            t = Mark(prof, StepPhase.Loss, t);
            if (grads is not null)
            {
                Gemm.Multiply(ctx, logits, _chunkA.AsSpan(0, n * d), grads["output_layer.linear.weight"].Data, v, d, n, transposeA: true, accumulate: true);
                t = Mark(prof, StepPhase.GemmWeightGradient, t);
                var db = grads["output_layer.linear.bias"].Data;
                for (int i = 0; i < n; i++)
                {
                    TensorPrimitives.Add(db, logits.Slice(i * v, v), db);
                }

                t = Mark(prof, StepPhase.Loss, t);
                var dA = _dChunkA.AsSpan(0, n * d);
                Gemm.Multiply(ctx, logits, headW, dA, n, d, v);
                prof?.CountGemm(v, d, n);
                prof?.CountGemm(n, d, v);
                t = Mark(prof, StepPhase.GemmInputGradient, t);
                var dIn = _dA.AsSpan(0, n * d);
                LayerNormBackward(_chunkIn.AsSpan(0, n * d), _chunkStats.AsSpan(0, n), _chunkStats.AsSpan(LossChunk, n), dA, dIn, n, normW,
                    _model.FinalModulation.AsSpan(d, d), grads["output_layer.norm_final.weight"].Data, _dFmod.AsSpan(d, d), _dFmod.AsSpan(0, d));
                t = Mark(prof, StepPhase.LayerNorm, t);
                for (int i = 0; i < n; i++)
                {
                    dIn.Slice(i * d, d).CopyTo(_dH.AsSpan(_lossRows[start + i] * d, d));
                }

                t = Mark(prof, StepPhase.Residual, t);
            }
        }

        return new TrainingPassResult(total, lossCount);
    }

    private void BackwardLayers(TrainingBatch batch, ModelParameters grads)
    {
        var ctx = _model.Compute;
        var p = _model.Parameters;
        int rows = batch.RowCount, d = _d, h4 = _hidden4;
        float scale = 1f / MathF.Sqrt(_hd);
        var prof = _model.Profile;
        long t = prof is null ? 0 : StepProfile.Start();
        for (int l = _layers - 1; l >= 0; l--)
        {
            var blk = _model.Blocks[l];
            var mod = blk.Modulation;
            var dmod = _dMod[l];
            Array.Clear(dmod);
            var dH = _dH.AsSpan(0, rows * d);

            // MLP branch: next = mid + g2 ⊙ drop(m).
            var dM = _dA.AsSpan(0, rows * d);
            GateBackward(dH, _m[l], mod.AsSpan(5 * d, d), dM, dmod.AsSpan(5 * d, d), rows, l, 1);
            t = Mark(prof, StepPhase.Residual, t);
            WeightGradient(ctx, dM, _g[l], grads[Name(l, Part.Mlp2W)].Data, d, h4, rows);
            t = Mark(prof, StepPhase.GemmWeightGradient, t);
            TrainingKernels.ColumnSum(ctx, dM, grads[Name(l, Part.Mlp2B)].Data, rows, d, _partials);
            t = Mark(prof, StepPhase.Residual, t);
            var dG = _dBig.AsSpan(0, rows * h4);
            Gemm.Multiply(ctx, dM, p[Name(l, Part.Mlp2W)].Data, dG, rows, h4, d);
            t = Mark(prof, StepPhase.GemmInputGradient, t);
            GeluBackward(_u[l], _dBig, rows * h4);
            t = Mark(prof, StepPhase.Activations, t);
            WeightGradient(ctx, dG, _a2[l], grads[Name(l, Part.Mlp0W)].Data, h4, d, rows);
            t = Mark(prof, StepPhase.GemmWeightGradient, t);
            TrainingKernels.ColumnSum(ctx, dG, grads[Name(l, Part.Mlp0B)].Data, rows, h4, _partials);
            t = Mark(prof, StepPhase.Residual, t);
            var dA2 = _dAtt.AsSpan(0, rows * d);
            Gemm.Multiply(ctx, dG, p[Name(l, Part.Mlp0W)].Data, dA2, rows, d, h4);
            t = Mark(prof, StepPhase.GemmInputGradient, t);
            var dMid = _dMid.AsSpan(0, rows * d);
            LayerNormBackward(_mid[l].AsSpan(0, rows * d), _mean2[l], _rstd2[l], dA2, dMid, rows, blk.Norm2, mod.AsSpan(4 * d, d),
                grads[Name(l, Part.Norm2)].Data, dmod.AsSpan(4 * d, d), dmod.AsSpan(3 * d, d));
            t = Mark(prof, StepPhase.LayerNorm, t);
            TrainingKernels.Add(ctx, dMid, dH, dMid);

            // Attention branch: mid = x + g1 ⊙ drop(o).
            var dO = _dA.AsSpan(0, rows * d);
            GateBackward(dMid, _o[l], mod.AsSpan(2 * d, d), dO, dmod.AsSpan(2 * d, d), rows, l, 0);
            t = Mark(prof, StepPhase.Residual, t);
            WeightGradient(ctx, dO, _att[l], grads[Name(l, Part.Out)].Data, d, d, rows);
            t = Mark(prof, StepPhase.GemmWeightGradient, t);
            var dAtt = _dAtt.AsSpan(0, rows * d);
            Gemm.Multiply(ctx, dO, p[Name(l, Part.Out)].Data, dAtt, rows, d, d);
            t = Mark(prof, StepPhase.GemmInputGradient, t);
            Array.Clear(_dQkv, 0, rows * 3 * d);
            AttentionBackward(batch, l, scale);
            t = Mark(prof, StepPhase.AttentionBackward, t);
            var dQkv = _dQkv.AsSpan(0, rows * 3 * d);
            TrainingKernels.RotaryBackward(ctx, dQkv, rows, d, _heads, _hd, batch.Positions, _model.Rotary);
            t = Mark(prof, StepPhase.Rotary, t);
            WeightGradient(ctx, dQkv, _a1[l], grads[Name(l, Part.Qkv)].Data, 3 * d, d, rows);
            t = Mark(prof, StepPhase.GemmWeightGradient, t);
            var dA1 = _dA.AsSpan(0, rows * d);
            Gemm.Multiply(ctx, dQkv, p[Name(l, Part.Qkv)].Data, dA1, rows, d, 3 * d);
            t = Mark(prof, StepPhase.GemmInputGradient, t);
            LayerNormBackward(_x[l].AsSpan(0, rows * d), _mean1[l], _rstd1[l], dA1, dH, rows, blk.Norm1, mod.AsSpan(d, d),
                grads[Name(l, Part.Norm1)].Data, dmod.AsSpan(d, d), dmod.AsSpan(0, d));
            t = Mark(prof, StepPhase.LayerNorm, t);
            TrainingKernels.Add(ctx, dH, dMid, dH);
            t = Mark(prof, StepPhase.Residual, t);
            if (prof is not null)
            {
                // Weight and input gradients of the four products: twice the forward's work.
                prof.CountGemm(2 * rows, 3 * d, d);
                prof.CountGemm(2 * rows, d, d);
                prof.CountGemm(2 * rows, h4, d);
                prof.CountGemm(2 * rows, d, h4);
            }
        }

        var dE = grads["vocab_embed.embedding"].Data;
        var tokens = batch.Tokens;
        for (int r = 0; r < rows; r++)
        {
            var dst = dE.AsSpan(tokens[r] * d, d);
            TensorPrimitives.Add(dst, _dH.AsSpan(r * d, d), dst);
        }

        Mark(prof, StepPhase.Residual, t);
    }

    /// <summary>dW[outputs, inputs] += dYᵀ·X over <paramref name="rows"/> rows (see <see cref="TrainingKernels.WeightGradient"/>).</summary>
    private static void WeightGradient(ComputeContext ctx, ReadOnlySpan<float> dY, ReadOnlySpan<float> x, Span<float> dW, int outputs, int inputs, int rows) =>
        TrainingKernels.WeightGradient(ctx, dY, x, dW, outputs, inputs, rows);

    private static long Mark(StepProfile? profile, StepPhase phase, long start) => DiffusionTransformer.Mark(profile, phase, start);

    /// <summary>Backprop through out = x + gate ⊙ drop(branch): dBranch = dOut ⊙ gate ⊙ mask, dGate += Σ dOut ⊙ drop(branch).</summary>
    private void GateBackward(ReadOnlySpan<float> dOut, float[] branch, ReadOnlySpan<float> gate, Span<float> dBranch, Span<float> dGate, int rows, int layer, int which)
    {
        int d = _d;
        if (DropoutRate == 0)
        {
            TrainingKernels.GateBackward(_model.Compute, dOut, branch.AsSpan(0, rows * d), gate, dBranch, dGate, rows, d, _partials);
            return;
        }

        float keepScale = DropoutRate > 0 ? 1f / (1f - DropoutRate) : 1f;
        for (int r = 0; r < rows; r++)
        {
            var go = dOut.Slice(r * d, d);
            var br = branch.AsSpan(r * d, d);
            var db = dBranch.Slice(r * d, d);
            if (DropoutRate > 0)
            {
                for (int i = 0; i < d; i++)
                {
                    float m = DropMask(layer, which, r, i, keepScale);
                    db[i] = go[i] * gate[i] * m;
                    dGate[i] += go[i] * br[i] * m;
                }
            }
            else
            {
                TensorPrimitives.Multiply(go, gate, db);
                TensorPrimitives.FusedMultiplyAdd(go, br, dGate, dGate);
            }
        }
    }

    private void AttentionBackward(TrainingBatch batch, int l, float scale)
    {
        var body = new AttentionTask(this, batch, l, scale, backward: true);
        ParallelTasks.Run(_model.Compute, batch.SequenceCount * _heads, ref body);
    }

    /// <summary>Modulation and sigma-map gradients from the accumulated dmod (mod = W·c + b, c = SiLU(W2·SiLU(W0·e + b0) + b2)).</summary>
    private void BackwardConstants(ModelParameters grads)
    {
        var p = _model.Parameters;
        var c = _model.ConditioningVector;
        var (freq, z1, s1, z2) = _model.ConditioningTrace;
        int cd = c.Length;
        var dc = _dc;
        Array.Clear(dc);
        void Linear(string weightName, string biasName, float[] dmod)
        {
            var w = p[weightName].Data;
            var dw = grads[weightName].Data;
            var db = grads[biasName].Data;
            for (int i = 0; i < dmod.Length; i++)
            {
                float g = dmod[i];
                db[i] += g;
                for (int j = 0; j < cd; j++)
                {
                    dw[(i * cd) + j] += g * c[j];
                    dc[j] += g * (double)w[(i * cd) + j];
                }
            }
        }

        for (int l = 0; l < _layers; l++)
        {
            Linear(Name(l, Part.AdaW), Name(l, Part.AdaB), _dMod[l]);
        }

        Linear("output_layer.adaLN_modulation.weight", "output_layer.adaLN_modulation.bias", _dFmod);

        var dz2 = _dz2;
        for (int i = 0; i < cd; i++)
        {
            dz2[i] = dc[i] * SiluGrad(z2[i]);
        }

        var w2 = p["sigma_map.mlp.2.weight"].Data;
        var dw2 = grads["sigma_map.mlp.2.weight"].Data;
        var db2 = grads["sigma_map.mlp.2.bias"].Data;
        var ds1 = _ds1;
        Array.Clear(ds1);
        for (int i = 0; i < cd; i++)
        {
            db2[i] += (float)dz2[i];
            for (int j = 0; j < cd; j++)
            {
                dw2[(i * cd) + j] += (float)(dz2[i] * s1[j]);
                ds1[j] += dz2[i] * w2[(i * cd) + j];
            }
        }

        int f = freq.Length;
        var dw0 = grads["sigma_map.mlp.0.weight"].Data;
        var db0 = grads["sigma_map.mlp.0.bias"].Data;
        for (int i = 0; i < cd; i++)
        {
            double dz1 = ds1[i] * SiluGrad(z1[i]);
            db0[i] += (float)dz1;
            for (int j = 0; j < f; j++)
            {
                dw0[(i * f) + j] += (float)(dz1 * freq[j]);
            }
        }
    }

    /// <summary>
    /// Backprop of y = n·w·(1+scale) + shift, n = (x − μ)·rstd: accumulates dw, dscale, dshift, and WRITES dx =
    /// rstd·(dn − mean(dn) − n·mean(dn⊙n)) with dn = dy⊙w⊙(1+scale).
    /// </summary>
    private void LayerNormBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, ReadOnlySpan<float> dy, Span<float> dx,
        int rows, ReadOnlySpan<float> w, ReadOnlySpan<float> scale, Span<float> dw, Span<float> dScale, Span<float> dShift) =>
        TrainingKernels.LayerNormBackward(_model.Compute, x, mean, rstd, dy, dx, rows, _d, w, scale, dw, dScale, dShift, _partials, _wScaled, _onePlusScale);

    /// <summary>The plain serial LayerNorm backward (kept as the reference the parallel kernel is tested against).</summary>
    internal static void LayerNormBackwardReference(ReadOnlySpan<float> x, ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, ReadOnlySpan<float> dy,
        Span<float> dx, int rows, int d, ReadOnlySpan<float> w, ReadOnlySpan<float> scale, Span<float> dw, Span<float> dScale, Span<float> dShift)
    {
        Span<float> n = d <= 1024 ? stackalloc float[d] : new float[d];
        Span<float> dn = d <= 1024 ? stackalloc float[d] : new float[d];
        for (int r = 0; r < rows; r++)
        {
            var xr = x.Slice(r * d, d);
            var dyr = dy.Slice(r * d, d);
            float mu = mean[r], rs = rstd[r];
            double sumDn = 0, sumDnN = 0;
            for (int i = 0; i < d; i++)
            {
                float ni = (xr[i] - mu) * rs;
                n[i] = ni;
                float g = dyr[i];
                dShift[i] += g;
                dScale[i] += g * ni * w[i];
                dw[i] += g * ni * (1f + scale[i]);
                float dni = g * w[i] * (1f + scale[i]);
                dn[i] = dni;
                sumDn += dni;
                sumDnN += dni * ni;
            }

            float a = (float)(sumDn / d), b = (float)(sumDnN / d);
            var dxr = dx.Slice(r * d, d);
            for (int i = 0; i < d; i++)
            {
                dxr[i] = rs * (dn[i] - a - (n[i] * b));
            }
        }
    }

    /// <summary>In place: dG ← dG ⊙ GELU'(u) for the tanh approximation, vectorised in chunks over the worker threads.</summary>
    private void GeluBackward(float[] u, float[] dG, int count)
    {
        var body = new GeluBackwardTask(u, dG, count);
        ParallelTasks.Run(_model.Compute, (count + GeluBackwardTask.Chunk - 1) / GeluBackwardTask.Chunk, ref body);
    }

    private readonly struct GeluBackwardTask(float[] u, float[] dG, int count) : ITaskBody
    {
        public const int Chunk = 4096;

        private const int Piece = 512;

        public void Run(int task)
        {
            int start = task * Chunk, end = Math.Min(count, start + Chunk);
            Span<float> t = stackalloc float[Piece];
            for (int s = start; s < end; s += Piece)
            {
                int len = Math.Min(Piece, end - s);
                GeluBackwardPiece(u.AsSpan(s, len), dG.AsSpan(s, len), t[..len]);
            }
        }
    }

    /// <summary>
    /// g ← g ⊙ GELU'(x) for one piece: th = tanh(c0·(x + c1·x³)), GELU' = 0.5(1 + th) + 0.5·c0·x·(1 + 3c1·x²)·(1 − th²).
    /// Two fused vector passes around <see cref="TensorPrimitives.Tanh{T}(ReadOnlySpan{T}, Span{T})"/>, each element rounded
    /// after the same operations in the same order as the scalar tail (so the bits do not depend on the vector width).
    /// </summary>
    internal static unsafe void GeluBackwardPiece(ReadOnlySpan<float> x, Span<float> g, Span<float> t)
    {
        const float c0 = 0.7978845608028654f, c1 = 0.044715f;
        int len = x.Length;
        fixed (float* px = x, pg = g, pt = t)
        {
            int j = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                for (; j + 16 <= len; j += 16)
                {
                    var v = Vector512.Load(px + j);
                    (((((v * v) * c1) + Vector512<float>.One) * v) * c0).Store(pt + j);
                }
            }

            for (; j < len; j++)
            {
                float v = px[j];
                pt[j] = ((((v * v) * c1) + 1f) * v) * c0;
            }

            TensorPrimitives.Tanh(new ReadOnlySpan<float>(pt, len), new Span<float>(pt, len));
            j = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                var one = Vector512<float>.One;
                for (; j + 16 <= len; j += 16)
                {
                    var v = Vector512.Load(px + j);
                    var th = Vector512.Load(pt + j);
                    var w = ((((v * v) * (3 * c1)) + one) * v) * (0.5f * c0);
                    (Vector512.Load(pg + j) * (((one + th) * 0.5f) + (w * (one - (th * th))))).Store(pg + j);
                }
            }

            for (; j < len; j++)
            {
                float v = px[j], th = pt[j];
                float w = ((((v * v) * (3 * c1)) + 1f) * v) * (0.5f * c0);
                pg[j] *= ((1f + th) * 0.5f) + (w * (1f - (th * th)));
            }
        }
    }

    private static double SiluGrad(float z)
    {
        double s = 1.0 / (1.0 + Math.Exp(-z));
        return s * (1 + (z * (1 - s)));
    }

}
