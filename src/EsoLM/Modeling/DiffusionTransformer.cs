using System.Numerics.Tensors;
using EsoLM.Backends;
using EsoLM.Backends.Cpu;
using EsoLM.Caching;
using EsoLM.Tensors;
using EsoLM.Training;

namespace EsoLM.Modeling;

/// <summary>
/// The Eso-LM network: a DiT with constant adaLN conditioning (spec §5). It knows nothing of samplers or objectives:
/// one <see cref="Forward"/> call takes token windows, their original positions, the keys each query may see and a
/// KV cache per sequence. Weights are packed once; the instance is read-only and safe to share between threads (each
/// thread brings its own <see cref="ForwardWorkspace"/> and caches). This is the CPU backend's <see cref="INetwork"/>.
/// </summary>
internal sealed class DiffusionTransformer : INetwork
{
    private readonly Block[] _blocks;
    private readonly float[] _conditioning;
    private readonly float[] _finalModulation;
    private readonly PackedMatrix _head;
    private readonly float[] _frequencyInput;
    private readonly float[] _hiddenPre;
    private readonly float[] _hidden;
    private readonly float[] _conditioningPre;
    private readonly RotaryTable _rotary;

    /// <summary>Builds the network from parameters (packs the weight matrices).</summary>
    public DiffusionTransformer(ModelParameters parameters, ComputeContext? compute = null)
        : this(parameters, compute is null ? CpuBackend.Default : new CpuBackend(compute))
    {
    }

    /// <summary>Builds the network on a CPU backend.</summary>
    internal DiffusionTransformer(ModelParameters parameters, CpuBackend backend)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(backend);
        Parameters = parameters;
        Config = parameters.Config;
        Config.Validate();
        Compute = backend.Compute;
        CpuBackend = backend;
        Weights = backend.Weights;
        var format = Weights;
        _rotary = new RotaryTable(RotaryTable.InverseFrequencies(Config.HeadDim, Config.RotaryBase), Config.ContextLength);
        _conditioning = new float[Config.CondDim];
        _finalModulation = new float[2 * Config.HiddenSize];
        _frequencyInput = new float[Config.FrequencyEmbeddingSize];
        _frequencyInput.AsSpan(0, Config.FrequencyEmbeddingSize / 2).Fill(1f);
        _hiddenPre = new float[Config.CondDim];
        _hidden = new float[Config.CondDim];
        _conditioningPre = new float[Config.CondDim];
        int d = Config.HiddenSize;
        _blocks = new Block[Config.Layers];
        for (int i = 0; i < Config.Layers; i++)
        {
            var b = $"blocks.{i}.";
            ParameterTensor T(string name) => parameters[b + name];
            _blocks[i] = new Block(T("norm1.weight").Data, T("norm2.weight").Data,
                PackedMatrix.Pack(T("attn_qkv.weight").Data, 3 * d, d, format), PackedMatrix.Pack(T("attn_out.weight").Data, d, d, format),
                PackedMatrix.Pack(T("mlp.0.weight").Data, Config.MlpHidden, d, format), T("mlp.0.bias").Data,
                PackedMatrix.Pack(T("mlp.2.weight").Data, d, Config.MlpHidden, format), T("mlp.2.bias").Data, new float[6 * d])
            {
                QkvWeight = T("attn_qkv.weight"),
                OutWeight = T("attn_out.weight"),
                Mlp1Weight = T("mlp.0.weight"),
                Mlp2Weight = T("mlp.2.weight"),
                AdaWeight = T("adaLN_modulation.weight"),
                AdaBias = T("adaLN_modulation.bias"),
            };
        }

        _head = PackedMatrix.Pack(parameters["output_layer.linear.weight"].Data, Config.VocabSize, d, format);
        RefreshFromParameters();
    }

    /// <summary>The model shape.</summary>
    public ModelConfig Config { get; }

    /// <summary>How the packed weight matrices are stored (the backend's <see cref="CpuBackend.Weights"/>).</summary>
    public WeightFormat Weights { get; }

    /// <summary>Bytes of packed weight matrices one forward pass streams (all blocks and the vocabulary head).</summary>
    public long PackedWeightBytes => _head.WeightBytes + _blocks.Sum(b => b.Qkv.WeightBytes + b.Out.WeightBytes + b.Mlp1.WeightBytes + b.Mlp2.WeightBytes);

    /// <summary>The CPU backend this network runs on.</summary>
    internal CpuBackend CpuBackend { get; }

    /// <inheritdoc />
    public IComputeBackend Backend => CpuBackend;

    /// <inheritdoc />
    public long ParameterBytes
    {
        get
        {
            // The raw parameters plus the packed copies of the matrices (panels padded to the panel width).
            static long Packed(PackedMatrix m) => m.WeightBytes;
            long bytes = (Parameters.Count * sizeof(float)) + Packed(_head);
            foreach (var b in _blocks)
            {
                bytes += Packed(b.Qkv) + Packed(b.Out) + Packed(b.Mlp1) + Packed(b.Mlp2) + (b.Modulation.Length * sizeof(float));
            }

            return bytes;
        }
    }

    /// <inheritdoc />
    public int HostThreads => Compute.MaxDegreeOfParallelism;

    /// <inheritdoc />
    public ModelParameters CopyParametersToHost() => Parameters.Clone();

    /// <inheritdoc />
    public void LoadParameters(ModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!ReferenceEquals(parameters, Parameters))
        {
            Parameters.CopyFrom(parameters);
        }

        RefreshFromParameters();
    }

    IKvCache INetwork.CreateCache(int capacity) => CreateCache(capacity);

    IForwardWorkspace INetwork.CreateWorkspace() => CreateWorkspace();

    /// <inheritdoc />
    public void Forward(ForwardBatch batch, IForwardWorkspace workspace, ForwardOutput output, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        var ws = workspace as ForwardWorkspace
            ?? throw new ArgumentException("The workspace was not created by a CPU network (INetwork.CreateWorkspace).", nameof(workspace));
        ForwardLogits(batch, ws, destination);
        if (output == ForwardOutput.LogProbabilities)
        {
            int v = Config.VocabSize;
            for (int r = 0; r < batch.OutputRowCount; r++)
            {
                var row = destination.Slice(r * v, v);
                row[Config.MaskTokenId] = float.NegativeInfinity;
                Activations.LogSoftmaxInPlace(row);
            }
        }
        else if (output != ForwardOutput.Logits)
        {
            throw new ArgumentOutOfRangeException(nameof(output), output, "Unknown forward output.");
        }
    }

    /// <inheritdoc />
    public ITrainingGraph CreateTrainingGraph() => new TrainingGraph(this);

    /// <inheritdoc />
    public IGradients CreateGradients() => new CpuGradients(Config);

    /// <inheritdoc />
    public ITrainingState CreateTrainingState(AdamWOptions optimizer, double emaDecay)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        return Weights == WeightFormat.Float32 ? new CpuTrainingState(this, optimizer, emaDecay)
            : throw new InvalidOperationException(
                $"This network packs its weights in {Weights}; training needs {WeightFormat.Float32} weights (new CpuBackend(compute) — the default).");
    }

    /// <summary>The parameters the network was built from (the same instance; see <see cref="RefreshFromParameters"/>).</summary>
    public ModelParameters Parameters { get; }

    /// <summary>Threads and SIMD width used by the kernels.</summary>
    public ComputeContext Compute { get; }

    /// <summary>The constant conditioning vector c = SiLU(sigma_map(0)) (time conditioning is off in Eso-LMs).</summary>
    public ReadOnlySpan<float> Conditioning => _conditioning;

    /// <summary>
    /// Re-derives packed weights and the constant adaLN modulations from <see cref="Parameters"/> after they changed
    /// (an optimizer step, loading EMA weights). Must not run concurrently with <see cref="Forward"/>.
    /// </summary>
    public void RefreshFromParameters()
    {
        RefreshConditioning();
        foreach (var blk in _blocks)
        {
            blk.Qkv.Repack(blk.QkvWeight.Data);
            blk.Out.Repack(blk.OutWeight.Data);
            blk.Mlp1.Repack(blk.Mlp1Weight.Data);
            blk.Mlp2.Repack(blk.Mlp2Weight.Data);
        }

        _head.Repack(Parameters["output_layer.linear.weight"].Data);
    }

    /// <summary>
    /// The packed copy of each weight matrix, by index into <see cref="Parameters"/>.<see cref="ModelParameters.Tensors"/>
    /// (the optimizer re-packs the panels it updates, then only <see cref="RefreshConditioning"/> is left to do).
    /// </summary>
    internal IReadOnlyDictionary<int, PackedMatrix> PackedByTensor()
    {
        var map = new Dictionary<int, PackedMatrix>();
        var tensors = Parameters.Tensors;
        void Add(ParameterTensor tensor, PackedMatrix packed)
        {
            for (int i = 0; i < tensors.Count; i++)
            {
                if (ReferenceEquals(tensors[i], tensor))
                {
                    map.Add(i, packed);
                    return;
                }
            }

            throw new InvalidOperationException($"The packed weight {tensor.Name} is not one of the network's parameters.");
        }

        foreach (var blk in _blocks)
        {
            Add(blk.QkvWeight, blk.Qkv);
            Add(blk.OutWeight, blk.Out);
            Add(blk.Mlp1Weight, blk.Mlp1);
            Add(blk.Mlp2Weight, blk.Mlp2);
        }

        Add(Parameters["output_layer.linear.weight"], _head);
        return map;
    }

    /// <summary>Re-derives the constant conditioning and the adaLN modulations from <see cref="Parameters"/> (not the packed weights).</summary>
    internal void RefreshConditioning()
    {
        var p = Parameters;
        // c = SiLU(W2·SiLU(W0·e + b0) + b2), e = the sinusoid of σ = 0 (half ones, half zeros). The pre-activations are
        // kept because the training graph back-propagates through them.
        Affine(p["sigma_map.mlp.0.weight"].Data, p["sigma_map.mlp.0.bias"].Data, _frequencyInput, _hiddenPre);
        Activations.Silu(_hiddenPre, _hidden);
        Affine(p["sigma_map.mlp.2.weight"].Data, p["sigma_map.mlp.2.bias"].Data, _hidden, _conditioningPre);
        Activations.Silu(_conditioningPre, _conditioning);
        foreach (var blk in _blocks)
        {
            Affine(blk.AdaWeight.Data, blk.AdaBias.Data, _conditioning, blk.Modulation);
        }

        Affine(p["output_layer.adaLN_modulation.weight"].Data, p["output_layer.adaLN_modulation.bias"].Data, _conditioning, _finalModulation);
    }

    /// <summary>The packed blocks (read by the training graph).</summary>
    internal IReadOnlyList<Block> Blocks => _blocks;

    /// <summary>The packed vocabulary head.</summary>
    internal PackedMatrix Head => _head;

    /// <summary>The sigma map's input e, pre-activation W0·e + b0, hidden SiLU(…) and pre-activation of c (for backprop).</summary>
    internal (float[] Input, float[] HiddenPre, float[] Hidden, float[] ConditioningPre) ConditioningTrace =>
        (_frequencyInput, _hiddenPre, _hidden, _conditioningPre);

    /// <summary>The output layer's adaLN (shift, scale), each <c>HiddenSize</c> long.</summary>
    internal float[] FinalModulation => _finalModulation;

    /// <summary>The conditioning vector c as an array (the training graph reads it inside local functions).</summary>
    internal float[] ConditioningVector => _conditioning;

    /// <summary>The rotary table.</summary>
    internal RotaryTable Rotary => _rotary;

    /// <summary>Creates a workspace for this network (one per thread/session).</summary>
    public ForwardWorkspace CreateWorkspace() => new(Config);

    /// <summary>Creates an empty KV cache with <paramref name="capacity"/> slots for one sequence.</summary>
    public KvCache CreateCache(int capacity) => new(Config, capacity, CpuBackend.KvCache);

    /// <summary>
    /// Runs the network over every window of <paramref name="batch"/>: writes each window's K/V into its cache, attends
    /// under the given key ranges, and writes logits (before zero-masking) for the selected rows into
    /// <paramref name="logits"/> ([batch.OutputRowCount, VocabSize], sequences in the order added).
    /// </summary>
    internal void ForwardLogits(ForwardBatch batch, ForwardWorkspace workspace, Span<float> logits)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(workspace);
        int v = Config.VocabSize, d = Config.HiddenSize, hd = Config.HeadDim, heads = Config.Heads;
        int rows = batch.RowCount;
        if (rows == 0)
        {
            return;
        }

        if (logits.Length < batch.OutputRowCount * v)
        {
            throw new ArgumentException(
                $"logits holds {logits.Length} values; {batch.OutputRowCount} output rows × {v} vocabulary = {batch.OutputRowCount * v} needed.",
                nameof(logits));
        }

        var prof = InferenceProfile.Active;
        long t0 = prof is null ? 0 : InferenceProfile.Start();
        Validate(batch);
        workspace.Ensure(rows);
        var ctx = Compute;
        var sink = new InferenceBuffers(workspace);
        var attention = new CacheAttention(this, batch, workspace);
        // The last block finishes only the rows whose logits are wanted; it leaves them compact, in output order.
        RunBlocks(rows, batch.Tokens, batch.Positions, ref sink, ref attention, 0f, 0, batch.Entries);
        long t = prof is null ? 0 : InferenceProfile.Start();
        int outRows = batch.OutputRowCount;
        var gathered = workspace.Hidden.AsSpan(0, outRows * d);
        var finalNormed = workspace.Normed.AsSpan(0, outRows * d);
        Normalization.LayerNormModulated(ctx, gathered, finalNormed, outRows, d, Parameters["output_layer.norm_final.weight"].Data,
            _finalModulation.AsSpan(d, d), _finalModulation.AsSpan(0, d), Config.LayerNormEps);
        t = prof?.Stop(InferencePhase.FinalNorm, t) ?? 0;
        Gemm.MultiplyTransposed(ctx, finalNormed, outRows, _head, Parameters["output_layer.linear.bias"].Data, logits[..(outRows * v)]);
        if (prof is not null)
        {
            prof.Stop(InferencePhase.HeadGemm, t);
            prof.Stop(InferencePhase.Forward, t0);
        }
    }

    private void Validate(ForwardBatch batch)
    {
        int v = Config.VocabSize;
        var tokens = batch.Tokens;
        var positions = batch.Positions;
        for (int r = 0; r < tokens.Length; r++)
        {
            if ((uint)tokens[r] >= (uint)v)
            {
                throw new ArgumentOutOfRangeException(nameof(batch), tokens[r],
                    $"Token id {tokens[r]} at window row {r} is outside the vocabulary [0, {v}).");
            }

            if ((uint)positions[r] >= (uint)Config.ContextLength)
            {
                throw new ArgumentOutOfRangeException(nameof(batch), positions[r],
                    $"Position {positions[r]} at window row {r} is outside the context [0, {Config.ContextLength}).");
            }
        }

        foreach (var e in batch.Entries)
        {
            if (e.Cache is not KvCache c)
            {
                throw new ArgumentException("A KV cache in the batch was not created by a CPU network (INetwork.CreateCache).", nameof(batch));
            }

            if (c.Layers != Config.Layers || c.Heads != Config.Heads || c.HeadDim != Config.HeadDim)
            {
                throw new ArgumentException("A KV cache was created for a different model shape.", nameof(batch));
            }
        }
    }

    /// <summary>
    /// THE layer loop of this backend, shared by inference (<see cref="ForwardLogits"/>) and training
    /// (<see cref="TrainingGraph"/>): embedding, then per block LN1 → qkv → RoPE → attention → out-projection → gated
    /// residual → LN2 → MLP → gated residual. <paramref name="buffers"/> says where each intermediate goes: inference aliases
    /// them onto one workspace (in place), training gives every layer its own arrays and LayerNorm statistics (the activation
    /// record its backward pass reads). <paramref name="attention"/> is the only mode-specific step: over the KV caches for
    /// inference, within each sequence with the log-sum-exp kept for training.
    /// <para>
    /// With <paramref name="outputs"/> (inference), the last block finishes only the output rows of each window: every row
    /// still writes its keys and values (later queries read them), but after the attention the output rows are moved to
    /// the front, in output order, and only they go through the out-projection and the MLP. The other rows' last hidden
    /// states are never read, and a row's bits do not depend on the rows beside it, so the logits are unchanged.
    /// </para>
    /// </summary>
    internal void RunBlocks<TBuffers, TAttention>(int rows, ReadOnlySpan<int> tokens, ReadOnlySpan<int> positions, ref TBuffers buffers,
        ref TAttention attention, float dropoutRate, ulong dropoutSeed, ReadOnlySpan<ForwardWindow> outputs = default)
        where TBuffers : struct, ILayerBuffers
        where TAttention : struct, IBlockAttention
    {
        var ctx = Compute;
        int d = Config.HiddenSize, heads = Config.Heads, hidden4 = Config.MlpHidden;
        float eps = Config.LayerNormEps;
        var prof = Profile;
        long t = prof is null ? 0 : StepProfile.Start();
        var emb = Parameters["vocab_embed.embedding"].Data;
        var x0 = buffers.Layer(0).X.AsSpan(0, rows * d);
        for (int r = 0; r < rows; r++)
        {
            emb.AsSpan(tokens[r] * d, d).CopyTo(x0.Slice(r * d, d));
        }

        t = Mark(prof, StepPhase.Residual, t);

        for (int layer = 0; layer < _blocks.Length; layer++)
        {
            var blk = _blocks[layer];
            var b = buffers.Layer(layer);
            var mod = blk.Modulation.AsSpan();
            var x = b.X.AsSpan(0, rows * d);
            var a1 = b.A1.AsSpan(0, rows * d);
            var qkv = b.Qkv.AsSpan(0, rows * 3 * d);
            var mid = b.Mid.AsSpan(0, rows * d);
            var a2 = b.A2.AsSpan(0, rows * d);
            var u = b.U.AsSpan(0, rows * hidden4);
            var g = b.G.AsSpan(0, rows * hidden4);
            int qkvRows = rows; // the last block may finish fewer rows than it projects

            // Attention branch.
            Normalization.LayerNormModulated(ctx, x, a1, rows, d, blk.Norm1, mod.Slice(d, d), mod[..d], eps, Stats(b.Mean1, rows), Stats(b.Rstd1, rows));
            t = Mark(prof, StepPhase.LayerNorm, t);
            Gemm.MultiplyTransposed(ctx, a1, rows, blk.Qkv, default, qkv);
            t = Mark(prof, StepPhase.GemmForward, t);
            ApplyRotary(ctx, qkv, rows, d, heads, positions);
            t = Mark(prof, StepPhase.Rotary, t);
            attention.Attend(layer, b.Qkv, b.Att);
            t = Mark(prof, StepPhase.AttentionForward, t);
            if (layer == _blocks.Length - 1 && !outputs.IsEmpty)
            {
                rows = KeepOutputRows(outputs, b.X, b.Att, d);
                x = x[..(rows * d)];
                mid = mid[..(rows * d)];
                a2 = a2[..(rows * d)];
                u = u[..(rows * hidden4)];
                g = g[..(rows * hidden4)];
                if (rows == 0)
                {
                    break;
                }
            }

            Gemm.MultiplyTransposed(ctx, b.Att.AsSpan(0, rows * d), rows, blk.Out, default, b.O.AsSpan(0, rows * d));
            t = Mark(prof, StepPhase.GemmForward, t);
            Residual(ctx, x, b.O.AsSpan(0, rows * d), mod.Slice(2 * d, d), mid, rows, d, dropoutRate, dropoutSeed, layer, 0);
            t = Mark(prof, StepPhase.Residual, t);

            // MLP branch.
            Normalization.LayerNormModulated(ctx, mid, a2, rows, d, blk.Norm2, mod.Slice(4 * d, d), mod.Slice(3 * d, d), eps, Stats(b.Mean2, rows),
                Stats(b.Rstd2, rows));
            t = Mark(prof, StepPhase.LayerNorm, t);
            Gemm.MultiplyTransposed(ctx, a2, rows, blk.Mlp1, blk.Mlp1Bias, u);
            t = Mark(prof, StepPhase.GemmForward, t);
            Activations.GeluTanh(ctx, u, g);
            t = Mark(prof, StepPhase.Activations, t);
            Gemm.MultiplyTransposed(ctx, g, rows, blk.Mlp2, blk.Mlp2Bias, b.M.AsSpan(0, rows * d));
            t = Mark(prof, StepPhase.GemmForward, t);
            prof?.CountGemm(qkvRows, 3 * d, d);
            prof?.CountGemm(rows, d, d);
            prof?.CountGemm(rows, hidden4, d);
            prof?.CountGemm(rows, d, hidden4);
            Residual(ctx, mid, b.M.AsSpan(0, rows * d), mod.Slice(5 * d, d), b.Next.AsSpan(0, rows * d), rows, d, dropoutRate, dropoutSeed, layer, 1);
            t = Mark(prof, StepPhase.Residual, t);
        }
    }

    /// <summary>
    /// Moves the output rows of every window (hidden state and attention output) to the front, in output order, and returns
    /// their count. Output row j of a window never lies after its source row, so a forward copy is safe in place.
    /// </summary>
    private static int KeepOutputRows(ReadOnlySpan<ForwardWindow> outputs, float[] hidden, float[] attended, int d)
    {
        int kept = 0;
        foreach (var e in outputs)
        {
            int from = (e.RowStart + e.OutputStart) * d, to = e.OutputRowStart * d, n = e.OutputCount * d;
            if (from != to)
            {
                hidden.AsSpan(from, n).CopyTo(hidden.AsSpan(to, n));
                attended.AsSpan(from, n).CopyTo(attended.AsSpan(to, n));
            }

            kept += e.OutputCount;
        }

        return kept;
    }

    /// <summary>Adds the time since <paramref name="start"/> to a phase when profiling; returns the next start.</summary>
    internal static long Mark(StepProfile? profile, StepPhase phase, long start) => profile is null ? 0 : profile.Stop(phase, start);

    /// <summary>When set, training steps through this network record their time per phase (benchmarks only).</summary>
    internal StepProfile? Profile { get; set; }

    private static Span<float> Stats(float[]? stats, int rows) => stats is null ? default : stats.AsSpan(0, rows);

    /// <summary>Rows per parallel block of the row-wise steps (rotary, residual).</summary>
    private const int RowBlock = 32;

    /// <summary>RoPE on the q and k parts of every qkv row, blocks of rows on the worker threads (rows are independent).</summary>
    private unsafe void ApplyRotary(ComputeContext ctx, Span<float> qkv, int rows, int d, int heads, ReadOnlySpan<int> positions)
    {
        if (ctx.MaxDegreeOfParallelism == 1 || rows <= RowBlock)
        {
            _rotary.Apply(qkv, rows, 3 * d, 0, heads, positions);
            _rotary.Apply(qkv, rows, 3 * d, d, heads, positions);
            return;
        }

        fixed (float* p = qkv)
        fixed (int* pos = positions)
        {
            var body = new RotaryTask(_rotary, p, pos, rows, d, heads);
            ParallelTasks.Run(ctx, (rows + RowBlock - 1) / RowBlock, ref body);
        }
    }

    private readonly unsafe struct RotaryTask(RotaryTable rotary, float* qkv, int* positions, int rows, int d, int heads) : ITaskBody
    {
        public void Run(int task)
        {
            int r0 = task * RowBlock, n = Math.Min(RowBlock, rows - r0);
            var span = new Span<float>(qkv + ((long)r0 * 3 * d), n * 3 * d);
            var pos = new ReadOnlySpan<int>(positions + r0, n);
            rotary.Apply(span, n, 3 * d, 0, heads, pos);
            rotary.Apply(span, n, 3 * d, d, heads, pos);
        }
    }

    /// <summary>output = x + gate ⊙ dropout(branch) per row (in place when output is x), blocks of rows on the worker threads.</summary>
    private static unsafe void Residual(ComputeContext ctx, ReadOnlySpan<float> x, ReadOnlySpan<float> branch, ReadOnlySpan<float> gate, Span<float> output,
        int rows, int d, float dropoutRate, ulong dropoutSeed, int layer, int which)
    {
        if (ctx.MaxDegreeOfParallelism == 1 || rows <= RowBlock)
        {
            Residual(x, branch, gate, output, 0, rows, d, dropoutRate, dropoutSeed, layer, which);
            return;
        }

        fixed (float* px = x, pb = branch, pg = gate, po = output)
        {
            var body = new ResidualTask(px, pb, pg, po, x.Overlaps(output), rows, d, dropoutRate, dropoutSeed, layer, which);
            ParallelTasks.Run(ctx, (rows + RowBlock - 1) / RowBlock, ref body);
        }
    }

    private readonly unsafe struct ResidualTask(float* x, float* branch, float* gate, float* output, bool inPlace, int rows, int d, float dropoutRate,
        ulong dropoutSeed, int layer, int which) : ITaskBody
    {
        public void Run(int task)
        {
            int r0 = task * RowBlock, n = Math.Min(RowBlock, rows - r0);
            long at = (long)r0 * d;
            var o = new Span<float>(output + at, n * d);
            var xs = inPlace ? o : new ReadOnlySpan<float>(x + at, n * d);
            Residual(xs, new ReadOnlySpan<float>(branch + at, n * d), new ReadOnlySpan<float>(gate, d), o, r0, n, d, dropoutRate, dropoutSeed, layer, which);
        }
    }

    /// <summary>Rows [first, first + rows) (the spans start at row first; the dropout mask is keyed by the absolute row).</summary>
    private static void Residual(ReadOnlySpan<float> x, ReadOnlySpan<float> branch, ReadOnlySpan<float> gate, Span<float> output, int first, int rows, int d,
        float dropoutRate, ulong dropoutSeed, int layer, int which)
    {
        bool inPlace = x.Overlaps(output);
        for (int r = 0; r < rows; r++)
        {
            var o = output.Slice(r * d, d);
            if (!inPlace)
            {
                x.Slice(r * d, d).CopyTo(o);
            }

            if (dropoutRate > 0)
            {
                float keepScale = 1f / (1f - dropoutRate);
                for (int i = 0; i < d; i++)
                {
                    o[i] += gate[i] * branch[(r * d) + i] * DropMask(dropoutRate, dropoutSeed, layer, which, first + r, i, keepScale);
                }
            }
            else
            {
                TensorPrimitives.FusedMultiplyAdd(branch.Slice(r * d, d), gate, o, o);
            }
        }
    }

    /// <summary>The dropout mask value (0 or 1/(1−p)) of one element, keyed by (seed, layer, branch, row, column).</summary>
    internal static float DropMask(float rate, ulong seed, int layer, int which, int row, int col, float keepScale)
    {
        double u = Randomness.CounterHash.Unit(Randomness.CounterHash.Key(seed, ((ulong)(uint)layer << 1) | (uint)which, (uint)row, (uint)col));
        return u < rate ? 0f : keepScale;
    }

    /// <summary>Inference: every layer works in place on one workspace.</summary>
    private readonly struct InferenceBuffers(ForwardWorkspace w) : ILayerBuffers
    {
        public LayerBuffers Layer(int layer) =>
            new(w.Hidden, w.Normed, w.Qkv, w.AttentionOut, w.Branch, w.Hidden, w.Normed, w.Mlp, w.Mlp, w.Branch, w.Hidden, null, null, null, null);
    }

    /// <summary>
    /// Inference attention: one parallel region per layer; each (sequence, head) task writes its window's K/V into its
    /// cache, then attends over the cache slots (a task owns its (sequence, head) slice of the layer's cache).
    /// </summary>
    private readonly struct CacheAttention(DiffusionTransformer model, ForwardBatch batch, ForwardWorkspace workspace) : IBlockAttention
    {
        public void Attend(int layer, float[] qkv, float[] output) => model.Attend(batch, layer, workspace, 1f / MathF.Sqrt(model.Config.HeadDim));
    }

    /// <summary>Writes the K/V rows of one (sequence, head) of a window into its cache (fp32 copy, or bf16 round-to-nearest-even in cache row layout).</summary>
    private static void WriteCache(ForwardWindow e, KvCache cache, int layer, int head, float[] qkv, int d, int hd)
    {
        if (cache.Format == WeightFormat.BFloat16)
        {
            var keys16 = cache.KeysBf16(layer, head);
            var values16 = cache.ValuesBf16(layer, head);
            for (int r = 0; r < e.RowCount; r++)
            {
                int src = ((e.RowStart + r) * 3 * d) + (head * hd);
                int dst = (e.WriteSlot + r) * hd;
                Attention.ToBFloat16Rows(qkv.AsSpan(src + d, hd), keys16.Slice(dst, hd), hd);
                Attention.ToBFloat16Rows(qkv.AsSpan(src + (2 * d), hd), values16.Slice(dst, hd), hd);
            }

            return;
        }

        var keys = cache.Keys(layer, head);
        var values = cache.Values(layer, head);
        for (int r = 0; r < e.RowCount; r++)
        {
            int src = ((e.RowStart + r) * 3 * d) + (head * hd);
            int dst = (e.WriteSlot + r) * hd;
            qkv.AsSpan(src + d, hd).CopyTo(keys.Slice(dst, hd));
            qkv.AsSpan(src + (2 * d), hd).CopyTo(values.Slice(dst, hd));
        }
    }

    private void Attend(ForwardBatch batch, int layer, ForwardWorkspace workspace, float scale)
    {
        var simd = Compute.Simd == SimdLevel.Auto ? ComputeContext.BestAvailable : Compute.Simd;
        bool window = simd == SimdLevel.Vector512 && Config.HeadDim == Attention.WindowHeadDim && Attention.WindowSupported;
        var body = new AttendTask(this, batch, layer, workspace, scale, window);
        ParallelTasks.Run(Compute, batch.SequenceCount * Config.Heads, ref body);
    }

    /// <summary>Cache write and attention of one (sequence, head) over its KV cache.</summary>
    private readonly struct AttendTask(DiffusionTransformer model, ForwardBatch batch, int layer, ForwardWorkspace workspace, float scale, bool window)
        : ITaskBody
    {
        public void Run(int task)
        {
            int heads = model.Config.Heads, d = model.Config.HiddenSize, hd = model.Config.HeadDim;
            var e = batch.Entries[task / heads];
            var cache = (KvCache)e.Cache;
            int head = task % heads;
            WriteCache(e, cache, layer, head, workspace.Qkv, d, hd);
            var visible = batch.Visible.Slice(e.RowStart, e.RowCount);
            var queries = workspace.Qkv.AsSpan((e.RowStart * 3 * d) + (head * hd));
            var output = workspace.AttentionOut.AsSpan((e.RowStart * d) + (head * hd));
            if (window && e.RowCount < Attention.BlockedMinQueries)
            {
                // Decoding windows: each cached row is loaded once per pair of queries (bf16 rows widened in registers);
                // the same bits as AttendHead over the (widened) entries.
                if (cache.Format == WeightFormat.BFloat16)
                {
                    Attention.AttendWindowBf16(queries, 3 * d, e.RowCount, cache.KeysBf16(layer, head), cache.ValuesBf16(layer, head), visible,
                        output, d, scale);
                }
                else
                {
                    Attention.AttendWindow(queries, 3 * d, e.RowCount, cache.Keys(layer, head), cache.Values(layer, head), visible, output, d, scale);
                }

                return;
            }

            if (cache.Format == WeightFormat.BFloat16)
            {
                // Only the slots some query sees are widened (half the bytes read from memory; the fp32 copy stays in cache).
                int end = 0;
                foreach (var vr in visible)
                {
                    end = Math.Max(end, vr.MaxEnd);
                }

                int n = Math.Max(end, 1) * hd;
                var keys = Attention.WidenBf16(cache.KeysBf16(layer, head)[..n], hd, Scratch.WideKeys);
                var values = Attention.WidenBf16(cache.ValuesBf16(layer, head)[..n], hd, Scratch.WideValues);
                Attention.AttendHead(model.Compute.Simd, queries, 3 * d, e.RowCount, keys, values, hd, visible, output, d, scale);
                return;
            }

            Attention.AttendHead(model.Compute.Simd, queries, 3 * d, e.RowCount, cache.Keys(layer, head), cache.Values(layer, head), hd, visible,
                output, d, scale);
        }
    }

    /// <summary>y = W·x + b for a small [out, in] matrix (constants computed once; plain loop in double).</summary>
    private static void Affine(float[] w, float[] b, ReadOnlySpan<float> x, Span<float> y)
    {
        int n = y.Length, k = x.Length;
        for (int i = 0; i < n; i++)
        {
            double s = b[i];
            for (int j = 0; j < k; j++)
            {
                s += (double)w[(i * k) + j] * x[j];
            }

            y[i] = (float)s;
        }
    }

    /// <summary>Packed weights and constant modulation of one block (shared with the training graph).</summary>
    internal sealed record Block(float[] Norm1, float[] Norm2, PackedMatrix Qkv, PackedMatrix Out, PackedMatrix Mlp1, float[] Mlp1Bias,
        PackedMatrix Mlp2, float[] Mlp2Bias, float[] Modulation)
    {
        public required ParameterTensor QkvWeight { get; init; }

        public required ParameterTensor OutWeight { get; init; }

        public required ParameterTensor Mlp1Weight { get; init; }

        public required ParameterTensor Mlp2Weight { get; init; }

        public required ParameterTensor AdaWeight { get; init; }

        public required ParameterTensor AdaBias { get; init; }
    }
}

/// <summary>Where the shared layer loop writes each intermediate of one block (arrays may alias for in-place inference).</summary>
/// <param name="X">Block input (layer 0: the embeddings are written here).</param>
/// <param name="A1">LN1 output.</param>
/// <param name="Qkv">q, k, v after RoPE: [rows, 3·hidden].</param>
/// <param name="Att">Attention output.</param>
/// <param name="O">Out-projection.</param>
/// <param name="Mid">x + g1 ⊙ O.</param>
/// <param name="A2">LN2 output.</param>
/// <param name="U">MLP pre-activation.</param>
/// <param name="G">GELU(U).</param>
/// <param name="M">MLP output.</param>
/// <param name="Next">Block output (the next block's X).</param>
/// <param name="Mean1">LN1 row means (null: not recorded).</param>
/// <param name="Rstd1">LN1 row 1/std.</param>
/// <param name="Mean2">LN2 row means.</param>
/// <param name="Rstd2">LN2 row 1/std.</param>
internal readonly record struct LayerBuffers(float[] X, float[] A1, float[] Qkv, float[] Att, float[] O, float[] Mid, float[] A2, float[] U, float[] G,
    float[] M, float[] Next, float[]? Mean1, float[]? Rstd1, float[]? Mean2, float[]? Rstd2);

/// <summary>Supplies the buffers of each block to <see cref="DiffusionTransformer.RunBlocks"/>.</summary>
internal interface ILayerBuffers
{
    /// <summary>The buffers of block <paramref name="layer"/>.</summary>
    LayerBuffers Layer(int layer);
}

/// <summary>The attention step of <see cref="DiffusionTransformer.RunBlocks"/>: reads q/k/v rows, writes the attention output rows.</summary>
internal interface IBlockAttention
{
    /// <summary>Attends for block <paramref name="layer"/>.</summary>
    void Attend(int layer, float[] qkv, float[] output);
}
