using EsoLM.Modeling;
using EsoLM.Tensors;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace EsoLM.TorchSharp;

/// <summary>
/// The Eso-LM DiT (spec §5) on a TorchSharp device: parameters are device tensors in the reference registration order,
/// the forward runs over padded batches of windows with attention masks built on the device from per-query key ranges,
/// and K/V are written into preallocated device caches at their generation-order slots. Numerically it is the managed
/// <see cref="DiffusionTransformer"/> (fp32; logits within 1e-4). Not thread-safe: one instance per thread or session.
/// </summary>
internal sealed class TorchDiffusionTransformer : IDisposable
{
    private readonly Tensor[] _params;
    private readonly Dictionary<string, int> _index;
    private readonly Tensor _cos;
    private readonly Tensor _sin;
    private readonly Tensor _frequencyInput;
    private readonly Dictionary<IntPtr, Tensor> _lowPrecisionWeights = [];
    private readonly Lock _lowPrecisionGate = new();
    private Conditioning? _frozen;
    private bool _disposed;

    /// <summary>Uploads <paramref name="parameters"/> to the device of <paramref name="options"/>.</summary>
    public TorchDiffusionTransformer(ModelParameters parameters, TorchBackendOptions? options = null)
        : this(parameters, options, null)
    {
    }

    /// <summary>Uploads <paramref name="parameters"/> to <paramref name="device"/> (null: the device of <paramref name="options"/>).</summary>
    internal TorchDiffusionTransformer(ModelParameters parameters, TorchBackendOptions? options, Device? device)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Options = options ?? new TorchBackendOptions();
        Options.Validate();
        Device = device ?? TorchRuntime.GetDevice(Options.Device);
        if (Options.CpuThreads is { } threads)
        {
            TorchRuntime.SetCpuThreads(threads);
        }

        Config = parameters.Config;
        Config.Validate();
        _params = new Tensor[parameters.Tensors.Count];
        _index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < _params.Length; i++)
        {
            var t = parameters.Tensors[i];
            _params[i] = tensor(t.Data, t.Shape.Select(s => (long)s).ToArray(), ScalarType.Float32, Device).requires_grad_(true);
            _index[t.Name] = i;
        }

        // RoPE tables computed on the host exactly as the managed engine does (float32 cos/sin of p·invFreq), uploaded once.
        var rotary = new RotaryTable(RotaryTable.InverseFrequencies(Config.HeadDim, Config.RotaryBase), Config.ContextLength);
        int half = Config.HeadDim / 2;
        var cos = new float[Config.ContextLength * half];
        var sin = new float[Config.ContextLength * half];
        for (int p = 0; p < Config.ContextLength; p++)
        {
            rotary.Cos(p).CopyTo(cos.AsSpan(p * half));
            rotary.Sin(p).CopyTo(sin.AsSpan(p * half));
        }

        _cos = tensor(cos, [Config.ContextLength, half], ScalarType.Float32, Device);
        _sin = tensor(sin, [Config.ContextLength, half], ScalarType.Float32, Device);
        var e = new float[Config.FrequencyEmbeddingSize];
        e.AsSpan(0, Config.FrequencyEmbeddingSize / 2).Fill(1f);
        _frequencyInput = tensor(e, ScalarType.Float32, Device);
    }

    /// <summary>The model shape.</summary>
    public ModelConfig Config { get; }

    /// <summary>The backend settings.</summary>
    public TorchBackendOptions Options { get; }

    /// <summary>The device holding the parameters.</summary>
    public Device Device { get; }

    /// <summary>The parameter tensors in registration order (the order of <see cref="ModelParameters.Tensors"/>).</summary>
    public IReadOnlyList<Tensor> Parameters => _params;

    /// <summary>The parameter tensor with the given reference name.</summary>
    public Tensor this[string name] => _params[_index[name]];

    /// <summary>Copies host parameters onto the device (same config) and drops the cached conditioning.</summary>
    public void Load(ModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Config != Config)
        {
            throw new ArgumentException("The parameters belong to a different model config.", nameof(parameters));
        }

        using (no_grad())
        {
            for (int i = 0; i < _params.Length; i++)
            {
                var t = parameters.Tensors[i];
                using var src = tensor(t.Data, t.Shape.Select(s => (long)s).ToArray(), ScalarType.Float32, CPU);
                _params[i].copy_(src);
            }
        }

        InvalidateConditioning();
    }

    /// <summary>Copies the device parameters into host parameters of the same config.</summary>
    public void CopyTo(ModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Config != Config)
        {
            throw new ArgumentException("The parameters belong to a different model config.", nameof(parameters));
        }

        for (int i = 0; i < _params.Length; i++)
        {
            TorchTensors.CopyToHost(_params[i], parameters.Tensors[i].Data);
        }
    }

    /// <summary>Downloads the parameters into a new host <see cref="ModelParameters"/>.</summary>
    public ModelParameters ToModelParameters()
    {
        var p = ModelParameters.CreateZero(Config);
        CopyTo(p);
        return p;
    }

    /// <summary>Drops the cached adaLN modulations; call after the parameter tensors changed in place.</summary>
    public void InvalidateConditioning()
    {
        _frozen?.Dispose();
        _frozen = null;
        lock (_lowPrecisionGate)
        {
            foreach (var t in _lowPrecisionWeights.Values)
            {
                t.Dispose();
            }

            _lowPrecisionWeights.Clear();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        InvalidateConditioning();
        foreach (var p in _params)
        {
            p.Dispose();
        }

        _cos.Dispose();
        _sin.Dispose();
        _frequencyInput.Dispose();
    }

    /// <summary>
    /// c = SiLU(sigma_map(0)) and every block's adaLN modulation. With <paramref name="grad"/> false the result is computed
    /// once (no autograd) and reused until <see cref="InvalidateConditioning"/>.
    /// </summary>
    internal Conditioning GetConditioning(bool grad)
    {
        if (!grad && _frozen is not null)
        {
            return _frozen;
        }

        Conditioning c;
        if (grad)
        {
            c = ComputeConditioning();
        }
        else
        {
            using (no_grad())
            {
                c = ComputeConditioning();
            }

            // Kept across calls: out of any caller's dispose scope.
            foreach (var t in c.Blocks)
            {
                t.DetachFromDisposeScope();
            }

            c.Final.DetachFromDisposeScope();
            _frozen = c;
        }

        return c;
    }

    private Conditioning ComputeConditioning()
    {
        using var scope = NewDisposeScope();
        var h = F.silu(F.linear(_frequencyInput, this["sigma_map.mlp.0.weight"], this["sigma_map.mlp.0.bias"]));
        var c = F.silu(F.linear(h, this["sigma_map.mlp.2.weight"], this["sigma_map.mlp.2.bias"]));
        var mods = new Tensor[Config.Layers];
        for (int i = 0; i < Config.Layers; i++)
        {
            mods[i] = F.linear(c, this[$"blocks.{i}.adaLN_modulation.weight"], this[$"blocks.{i}.adaLN_modulation.bias"]).MoveToOuterDisposeScope();
        }

        var final = F.linear(c, this["output_layer.adaLN_modulation.weight"], this["output_layer.adaLN_modulation.bias"]).MoveToOuterDisposeScope();
        return new Conditioning(mods, final);
    }

    /// <summary>
    /// Runs the blocks over padded windows. <paramref name="tokens"/> and <paramref name="positions"/> are [B, n] int64;
    /// <paramref name="mask"/> is [B, 1, n, K] bool (true = visible) over the keys the attention reads. For each layer,
    /// <paramref name="keysFor"/> receives the rotated K and V of the window ([B, n, d]) and returns the keys and values to
    /// attend to ([B, K, d]): the window itself in training, the KV cache after writing the window in inference.
    /// Returns the residual stream [B, n, d].
    /// </summary>
    internal Tensor Trunk(Tensor tokens, Tensor positions, Tensor mask, Conditioning cond, Func<int, Tensor, Tensor, (Tensor K, Tensor V)> keysFor,
        Func<int, int, Tensor?>? dropout = null)
    {
        int d = Config.HiddenSize, heads = Config.Heads, hd = Config.HeadDim;
        long b = tokens.shape[0], n = tokens.shape[1];
        float eps = Config.LayerNormEps;
        double scale = 1.0 / Math.Sqrt(hd);
        var h = TorchTensors.Rows(this["vocab_embed.embedding"], tokens.reshape(-1)).reshape(b, n, d);
        var cos = TorchTensors.Rows(_cos, positions.reshape(-1)).reshape(b, n, 1, hd / 2);
        var sin = TorchTensors.Rows(_sin, positions.reshape(-1)).reshape(b, n, 1, hd / 2);
        var lowp = LowPrecision;
        for (int layer = 0; layer < Config.Layers; layer++)
        {
            // Each layer's temporaries (attention scores, MLP activations, gathered caches) are released when the layer ends
            // instead of when the caller's scope does: without this the peak memory grows with the layer count (an L = 1024,
            // batch 16 decode reached 23 GB on CPU). Autograd keeps its own references to what backward needs.
            using var layerScope = NewDisposeScope();
            string p = $"blocks.{layer}.";
            var mod = cond.Blocks[layer].chunk(6);
            var x = Modulate(LayerNorm(h, this[p + "norm1.weight"], eps), mod[0], mod[1]);
            var qkv = Linear(x, this[p + "attn_qkv.weight"], null).reshape(b, n, 3, heads, hd);
            var q = Rotate(qkv.select(2, 0), cos, sin);
            var k = Rotate(qkv.select(2, 1), cos, sin).reshape(b, n, d);
            var v = qkv.select(2, 2).reshape(b, n, d);
            var (keys, values) = keysFor(layer, k, v);
            long kn = keys.shape[1];
            var qh = q.transpose(1, 2);
            var kh = keys.reshape(b, kn, heads, hd).transpose(1, 2);
            var vh = values.reshape(b, kn, heads, hd).transpose(1, 2);
            Tensor att;
            if (lowp is { } tm && Device.type == DeviceType.META)
            {
                // libtorch's C++ build has no meta kernel for SDPA's math path (aten::where): the same products spelled out.
                var sm = matmul(qh.to_type(tm), kh.to_type(tm).transpose(2, 3)).mul(scale).masked_fill(mask.bitwise_not(), float.NegativeInfinity);
                att = matmul(F.softmax(sm, -1), vh.to_type(tm)).to_type(ScalarType.Float32);
            }
            else if (lowp is { } t)
            {
                att = F.scaled_dot_product_attention(qh.to_type(t), kh.to_type(t), vh.to_type(t), mask).to_type(ScalarType.Float32);
            }
            else
            {
                var scores = matmul(qh, kh.transpose(2, 3)).mul(scale).masked_fill(mask.bitwise_not(), float.NegativeInfinity);
                att = matmul(F.softmax(scores, -1), vh);
            }

            var attOut = Linear(att.transpose(1, 2).reshape(b, n, d), this[p + "attn_out.weight"], null);
            if (dropout?.Invoke(layer, 0) is { } keep0)
            {
                attOut = attOut * keep0;
            }

            h = h + (attOut * mod[2]);

            var y = Modulate(LayerNorm(h, this[p + "norm2.weight"], eps), mod[3], mod[4]);
            var m = GeluTanh(Linear(y, this[p + "mlp.0.weight"], this[p + "mlp.0.bias"]));
            var mlpOut = Linear(m, this[p + "mlp.2.weight"], this[p + "mlp.2.bias"]);
            if (dropout?.Invoke(layer, 1) is { } keep1)
            {
                mlpOut = mlpOut * keep1;
            }

            h = (h + (mlpOut * mod[5])).MoveToOuterDisposeScope();
        }

        return h;
    }

    /// <summary>The output layer on rows of the residual stream [R, d]: modulated final norm and the vocabulary head → [R, V].</summary>
    internal Tensor Head(Tensor rows, Conditioning cond)
    {
        int d = Config.HiddenSize;
        var mod = cond.Final.chunk(2);
        var x = Modulate(LayerNorm(rows, this["output_layer.norm_final.weight"], Config.LayerNormEps), mod[0], mod[1]);
        return Linear(x, this["output_layer.linear.weight"], this["output_layer.linear.bias"]);
    }

    private ScalarType? LowPrecision => Options.Precision switch
    {
        TorchPrecision.Bf16 => ScalarType.BFloat16,
        TorchPrecision.Fp16 => ScalarType.Float16,
        _ => null,
    };

    private Tensor Linear(Tensor x, Tensor w, Tensor? bias)
    {
        if (LowPrecision is { } t)
        {
            return F.linear(x.to_type(t), LowPrecisionCopy(w, t), bias is null ? null : LowPrecisionCopy(bias, t)).to_type(ScalarType.Float32);
        }

        return F.linear(x, w, bias);
    }

    /// <summary>
    /// A parameter in the reduced matmul precision. Without autograd (sampling, evaluation) the cast is made once and kept
    /// until the parameters change (<see cref="InvalidateConditioning"/>), so a decode step reads bf16/fp16 weights instead
    /// of re-reading fp32 and writing a cast every pass; with autograd the cast is part of the graph, as autocast does.
    /// </summary>
    private Tensor LowPrecisionCopy(Tensor parameter, ScalarType type)
    {
        if (is_grad_enabled())
        {
            return parameter.to_type(type);
        }

        lock (_lowPrecisionGate)
        {
            if (!_lowPrecisionWeights.TryGetValue(parameter.Handle, out var cast))
            {
                cast = parameter.detach().to_type(type).DetachFromDisposeScope();
                _lowPrecisionWeights[parameter.Handle] = cast;
            }

            return cast;
        }
    }

    /// <summary>
    /// LayerNorm over the last dimension with a weight and no bias: libtorch's fused kernel on real devices. libtorch's
    /// C++ build has no meta-device kernel for it, so on the data-less <c>meta</c> device (the tests' host-round-trip
    /// check) it is spelled out with mean and rsqrt, which do.
    /// </summary>
    private Tensor LayerNorm(Tensor x, Tensor weight, float eps)
    {
        if (Device.type != DeviceType.META)
        {
            return F.layer_norm(x, [x.shape[^1]], weight, null, eps);
        }

        var centered = x - x.mean([-1], keepdim: true);
        return centered * (centered.square().mean([-1], keepdim: true) + eps).rsqrt() * weight;
    }

    private static Tensor Modulate(Tensor x, Tensor shift, Tensor scale) => (x * (scale + 1)) + shift;

    private static Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        // GPT-NeoX rotate-half over the whole head: [lo, hi] → [lo·cos − hi·sin, hi·cos + lo·sin].
        var halves = x.chunk(2, -1);
        var lo = halves[0];
        var hi = halves[1];
        return cat([(lo * cos) - (hi * sin), (hi * cos) + (lo * sin)], -1);
    }

    private static Tensor GeluTanh(Tensor x)
    {
        const double c = 0.7978845608028654;
        return x * 0.5 * (tanh((x + (x.pow(3) * 0.044715)) * c) + 1);
    }

    /// <summary>The constant conditioning derived from the parameters.</summary>
    internal sealed class Conditioning(Tensor[] blocks, Tensor final) : IDisposable
    {
        /// <summary>Each block's 6·d modulation (shift1, scale1, gate1, shift2, scale2, gate2).</summary>
        public Tensor[] Blocks { get; } = blocks;

        /// <summary>The output layer's (shift, scale).</summary>
        public Tensor Final { get; } = final;

        public void Dispose()
        {
            foreach (var t in Blocks)
            {
                t.Dispose();
            }

            Final.Dispose();
        }
    }
}
