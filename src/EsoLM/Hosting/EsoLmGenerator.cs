#pragma warning disable CA2208 // Errors name the offending setting (Steps, AlphaEval), which is not a parameter.
using System.Runtime.CompilerServices;
using EsoLM.Caching;
using EsoLM.Masks;
using EsoLM.Sampling;
using EsoLM.Schedules;
using EsoLM.Training;
using EsoLM.Text;

namespace EsoLM.Hosting;

/// <summary>
/// The generation entry point: text in, text out, over one shared <see cref="EsoLmModel"/>. Resolves the sampler,
/// schedule, mask policy and KV cache by the keys in <see cref="EsoLmOptions"/> (or the request's overrides) through an
/// <see cref="IEsoLmStrategyProvider"/>, and pools samplers per setting. Safe for concurrent use; the output of a request
/// depends only on the model, its settings and its seed — not on what runs beside it.
/// </summary>
public sealed class EsoLmGenerator
{
    private readonly IEsoLmStrategyProvider _strategies;
    private readonly Dictionary<(string Sampler, GenerationSettings Settings), LinkedListNode<PoolEntry>> _pool = new();
    private readonly LinkedList<PoolEntry> _recent = new(); // most recently used first; guarded by _pool

    /// <summary>Creates a generator.</summary>
    /// <param name="model">The model.</param>
    /// <param name="options">Defaults (copied); null = <see cref="EsoLmOptions"/> defaults.</param>
    /// <param name="strategies">Where strategies are looked up; null = <see cref="BuiltInStrategies.Instance"/>.</param>
    public EsoLmGenerator(EsoLmModel model, EsoLmOptions? options = null, IEsoLmStrategyProvider? strategies = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        Options = options?.Clone() ?? new EsoLmOptions();
        _strategies = strategies ?? BuiltInStrategies.Instance;
        Resolve(new GenerationRequest(string.Empty) { MaxNewTokens = 1 }); // fail fast on unknown keys
    }

    /// <summary>The model.</summary>
    public EsoLmModel Model { get; }

    /// <summary>How many distinct settings the sampler pool holds now.</summary>
    internal int PooledSettingsCount
    {
        get
        {
            lock (_pool)
            {
                return _pool.Count;
            }
        }
    }

    /// <summary>The default settings (a private copy; do not modify).</summary>
    public EsoLmOptions Options { get; }

    /// <summary>Generates one completion.</summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Checked every sampler step.</param>
    /// <returns>The result.</returns>
    public GenerationResult Generate(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        var plan = Resolve(request);
        var sampler = Rent(plan);
        var result = sampler.Generate([plan.SamplingRequest], cancellationToken);
        Return(plan, sampler);
        return ToResult(plan, result.Sequences[0]);
    }

    /// <summary>
    /// Checks a request against the model and the settings (prompt length against the context, token limit, steps,
    /// α_eval, token selection, and every strategy key) without generating — what every generating method checks first.
    /// </summary>
    /// <param name="request">The request.</param>
    /// <exception cref="ArgumentException">A setting is out of range or the prompt does not fit.</exception>
    /// <exception cref="KeyNotFoundException">No strategy is registered under a requested key.</exception>
    public void Validate(GenerationRequest request) => Resolve(request);

    /// <summary>
    /// Generates several completions, running requests that share every sampler setting (sampler, schedule, steps,
    /// α_eval, selection, and prompt + completion length) as one sampler batch. Each result equals what
    /// <see cref="Generate"/> gives for the same request: a sequence's output depends only on its own settings and seed,
    /// never on what is batched beside it. Batching pays because each step then feeds the network several rows at once.
    /// </summary>
    /// <param name="requests">The requests; all are validated before any work starts.</param>
    /// <param name="cancellationToken">Checked every sampler step.</param>
    /// <returns>One result per request, in order.</returns>
    public IReadOnlyList<GenerationResult> GenerateBatch(IReadOnlyList<GenerationRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var plans = new Plan[requests.Count];
        for (int i = 0; i < plans.Length; i++)
        {
            plans[i] = Resolve(requests[i]);
        }

        var results = new GenerationResult[plans.Length];
        foreach (var group in Enumerable.Range(0, plans.Length).GroupBy(i => (plans[i].SamplerKey, plans[i].Settings)))
        {
            cancellationToken.ThrowIfCancellationRequested();
            int[] members = [.. group];
            var first = plans[members[0]];
            var sampler = Rent(first);
            var output = sampler.Generate([.. members.Select(i => plans[i].SamplingRequest)], cancellationToken);
            Return(first, sampler);
            for (int k = 0; k < members.Length; k++)
            {
                results[members[k]] = ToResult(plans[members[k]], output.Sequences[k]);
            }
        }

        return results;
    }

    private GenerationResult ToResult(Plan plan, GeneratedSequence sequence)
    {
        var completion = sequence.Tokens.AsSpan(plan.PromptIds.Length).ToArray();
        var text = Model.Tokenizer.Decode(completion);
        var reason = sequence.EndedWithEos ? GenerationFinishReason.EndOfSequence : GenerationFinishReason.Length;
        if (FindStop(text, plan.StopSequences) is int cut)
        {
            text = text[..cut];
            reason = GenerationFinishReason.StopSequence;
        }

        return new GenerationResult(plan.Request.Prompt, text, completion, plan.PromptIds.Length, reason, sequence.ForwardPasses, plan.Seed, plan.SamplerKey);
    }

    /// <summary>
    /// Generates one completion, streaming the committed left-to-right text as it grows (append-only: text already
    /// reported never changes). Arguments are validated before the first step; cancellation is checked every step.
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancels generation.</param>
    /// <returns>The updates; the last carries the result.</returns>
    public IAsyncEnumerable<GenerationUpdate> GenerateStreamingAsync(GenerationRequest request, CancellationToken cancellationToken = default)
    {
        var plan = Resolve(request);
        return Stream(plan, cancellationToken);
    }

    private async IAsyncEnumerable<GenerationUpdate> Stream(Plan plan, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var sampler = Rent(plan);
        bool completed = false;
        int emitted = 0;
        int passes = 0;
        int[] committed = [];
        string text = string.Empty;
        var reason = GenerationFinishReason.Length;
        int step = 0;
        await foreach (var update in sampler.GenerateStreamingAsync([plan.SamplingRequest], cancellationToken).ConfigureAwait(false))
        {
            cancellationToken.ThrowIfCancellationRequested();
            step = update.Step;
            passes = update.ForwardPasses;
            if (update.Result is { } final)
            {
                var seq = final.Sequences[0];
                committed = seq.Tokens.AsSpan(plan.PromptIds.Length).ToArray();
                reason = seq.EndedWithEos ? GenerationFinishReason.EndOfSequence : GenerationFinishReason.Length;
                passes = seq.ForwardPasses;
                completed = true;
            }
            else if (update.Prefixes.Count > 0)
            {
                var prefix = update.Prefixes[^1].Tokens;
                if (prefix.Count <= plan.PromptIds.Length)
                {
                    continue;
                }

                committed = [.. prefix.Skip(plan.PromptIds.Length)];
            }
            else
            {
                continue;
            }

            text = Model.Tokenizer.Decode(committed);
            if (FindStop(text, plan.StopSequences) is int cut)
            {
                text = text[..cut];
                reason = GenerationFinishReason.StopSequence;
                break;
            }

            if (completed)
            {
                break;
            }

            int safe = SafeLength(text, plan.StopSequences);
            if (safe > emitted && text.Length >= emitted)
            {
                yield return new GenerationUpdate(text[emitted..safe], step, null);
                emitted = safe;
            }
        }

        if (completed)
        {
            Return(plan, sampler);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var result = new GenerationResult(plan.Request.Prompt, text, committed, plan.PromptIds.Length, reason, passes, plan.Seed, plan.SamplerKey);
        yield return new GenerationUpdate(text.Length > emitted ? text[emitted..] : string.Empty, step, result);
    }

    /// <summary>Validates a request against the model and the options, resolving every strategy; throws on bad input.</summary>
    internal Plan Resolve(GenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.Prompt, nameof(request));
        var o = Options;
        var trained = Model.Training;
        var samplerKey = request.Sampler ?? o.Sampler ?? (trained?.Variant == EsoLmVariant.Mdlm ? "mdlm" : "esolm");
        var factory = _strategies.GetStrategy<ISamplerFactory>(samplerKey);
        var schedule = _strategies.GetStrategy<INoiseSchedule>(request.Schedule ?? o.Schedule);
        var policyKey = o.MaskPolicy
            ?? (trained is not null && _strategies.GetKeys<IAttentionMaskPolicy>().Contains(trained.MaskPolicy, StringComparer.Ordinal) ? trained.MaskPolicy : "esolm-b");
        var policy = _strategies.GetStrategy<IAttentionMaskPolicy>(policyKey);
        if (trained is not null && !o.AllowMaskPolicyMismatch)
        {
            var masks = SettingsRules.MasksOf(factory, policy);
            if (!trained.IsTrainedWith(masks))
            {
                throw new ArgumentException(
                    $"The model was trained as {trained} (mask policy '{trained.MaskPolicy}'), but sampler '{samplerKey}' with mask policy '{policyKey}' " +
                    $"would sample it with the '{masks}' masks, a distribution it was not trained for. Leave Sampler and MaskPolicy unset to use the " +
                    "training masks, or set EsoLmOptions.AllowMaskPolicyMismatch = true to run it anyway.", "MaskPolicy");
            }
        }

        var errors = new List<string>();
        // Explicit values only: the request's own, and the options' when the options' sampler runs (an options-level Steps is a
        // default for every sampler, not a request to a sampler the request switched to).
        bool ownSampler = request.Sampler is null;
        SettingsRules.Check(samplerKey, factory, request.Steps ?? (ownSampler ? o.Steps : null), request.AlphaEval ?? (ownSampler ? o.AlphaEval : null),
            policyKey, policy, errors);
        if (errors.Count > 0)
        {
            var setting = errors[0][..errors[0].IndexOf(':', StringComparison.Ordinal)];
            throw new ArgumentException(string.Join(" ", errors), setting);
        }

        var cache = _strategies.GetStrategy<IKvCacheFactory>(o.KvCache);
        var promptIds = request.Prompt.Length == 0 ? [] : Model.Tokenizer.Encode(request.Prompt);
        int context = Model.Config.ContextLength;
        if (promptIds.Length >= context)
        {
            throw new ArgumentException(
                $"The prompt has {promptIds.Length} tokens but the model's context holds {context}, leaving no room to generate.", nameof(request));
        }

        int room = context - promptIds.Length;
        int maxNew = request.MaxNewTokens ?? o.MaxNewTokens ?? room;
        if (maxNew < 1 || maxNew > room)
        {
            throw new ArgumentOutOfRangeException(nameof(request), maxNew,
                $"MaxNewTokens must be in [1, {room}]: the model's context is {context} tokens and the prompt takes {promptIds.Length}.");
        }

        var selection = new TokenSelectionOptions
        {
            Temperature = request.Temperature ?? o.Temperature,
            TopP = request.TopP ?? o.TopP,
            TopK = request.TopK ?? o.TopK,
            Greedy = request.Greedy ?? o.Greedy,
        };
        selection.Validate();
        var settings = new GenerationSettings
        {
            Length = promptIds.Length + maxNew,
            Steps = request.Steps ?? o.Steps,
            AlphaEval = request.AlphaEval ?? o.AlphaEval ?? trained?.Alpha0 ?? 1.0,
            BlockSize = o.BlockSize,
            Selection = selection,
            EosTokenId = Model.EosTokenId,
            Schedule = schedule,
            MaskPolicy = policy,
            KvCache = cache,
        };
        if (settings.Steps is int s && (s < 1 || s > EsoLmOptions.MaxSteps))
        {
            throw new ArgumentOutOfRangeException("Steps", s, $"Steps must be in [1, {EsoLmOptions.MaxSteps}] (the range of EsoLmOptions.Steps); got {s}.");
        }

        if (!(settings.AlphaEval >= 0 && settings.AlphaEval <= 1))
        {
            throw new ArgumentOutOfRangeException("AlphaEval", settings.AlphaEval, "AlphaEval must be in [0, 1].");
        }

        ulong seed = request.Seed ?? o.Seed ?? (ulong)Random.Shared.NextInt64();
        var sampling = new SamplingRequest { Seed = seed, SequenceId = 0, Prompt = promptIds.Length == 0 ? null : promptIds };
        var stops = request.StopSequences?.Where(x => !string.IsNullOrEmpty(x)).ToArray() ?? [];
        return new Plan(request, samplerKey, factory, settings, promptIds, seed, sampling, stops);
    }

    private ISampler Rent(Plan plan)
    {
        lock (_pool)
        {
            if (_pool.TryGetValue((plan.SamplerKey, plan.Settings), out var node) && node.Value.Idle.Count > 0)
            {
                _recent.Remove(node);
                _recent.AddFirst(node);
                return node.Value.Idle.Pop();
            }
        }

        return plan.Factory.Create(Model.Transformer, plan.Settings);
    }

    /// <summary>
    /// Keeps an idle sampler for reuse: at most <see cref="EsoLmOptions.MaxPooledSamplers"/> per setting and
    /// <see cref="EsoLmOptions.MaxPooledSettings"/> settings; beyond that the least recently used setting is dropped.
    /// </summary>
    private void Return(Plan plan, ISampler sampler)
    {
        var key = (plan.SamplerKey, plan.Settings);
        lock (_pool)
        {
            if (!_pool.TryGetValue(key, out var node))
            {
                while (_pool.Count >= Options.MaxPooledSettings && _recent.Last is { } oldest)
                {
                    _recent.RemoveLast();
                    _pool.Remove(oldest.Value.Key);
                }

                node = _recent.AddFirst(new PoolEntry(key));
                _pool.Add(key, node);
            }
            else
            {
                _recent.Remove(node);
                _recent.AddFirst(node);
            }

            if (node.Value.Idle.Count < Options.MaxPooledSamplers)
            {
                node.Value.Idle.Push(sampler);
            }
        }
    }

    private sealed class PoolEntry((string Sampler, GenerationSettings Settings) key)
    {
        public (string Sampler, GenerationSettings Settings) Key { get; } = key;

        public Stack<ISampler> Idle { get; } = new();
    }

    private static int? FindStop(string text, string[] stops)
    {
        int? best = null;
        foreach (var stop in stops)
        {
            int i = text.IndexOf(stop, StringComparison.Ordinal);
            if (i >= 0 && (best is null || i < best))
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>How much of <paramref name="text"/> can be shown without ever being retracted.</summary>
    private static int SafeLength(string text, string[] stops)
    {
        int safe = text.Length;
        while (safe > 0 && text[safe - 1] == '\uFFFD')
        {
            safe--; // possibly an incomplete multi-byte character
        }

        foreach (var stop in stops)
        {
            for (int k = Math.Min(stop.Length - 1, text.Length); k > 0; k--)
            {
                if (text.AsSpan(text.Length - k).SequenceEqual(stop.AsSpan(0, k)))
                {
                    safe = Math.Min(safe, text.Length - k);
                    break;
                }
            }
        }

        return safe;
    }

    internal sealed record Plan(GenerationRequest Request, string SamplerKey, ISamplerFactory Factory, GenerationSettings Settings, int[] PromptIds,
        ulong Seed, SamplingRequest SamplingRequest, string[] StopSequences);
}
