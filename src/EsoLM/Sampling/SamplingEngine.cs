using System.Diagnostics;
using System.Runtime.CompilerServices;
using EsoLM.Backends;
using EsoLM.Caching;
using EsoLM.Modeling;
using EsoLM.Randomness;
using EsoLM.Tensors;

namespace EsoLM.Sampling;

/// <summary>The state of one sequence during a call (pooled and reused across calls).</summary>
internal sealed class SequenceState
{
    public int RequestIndex;
    public long SequenceId;
    public ulong Seed;
    public int Length;
    public int[] Order = [];
    public int[] SlotTokens = [];
    public int[] ByPosition = [];
    public bool[] IsKnown = [];
    public int[] Work = [];
    public int Known;
    public StepPlan? Plan;
    public int StepIndex;
    public int Done;
    public int Prev;
    public int Remaining;
    public int Frontier;
    public int Block;
    public int BlockStep;
    public int PrefixLength;
    public int ReportedPrefix;
    public string? ReportedText;
    public bool EndedWithEos;
    public bool Finished;
    public bool ReportedFinished;
    public bool Added;
    public int OutStart;
    public int OutCount;
    public int Forwards;
    public int DiffusionTokens;
    public IKvCache? Cache;
    public KeyRange[] CachedRanges = [];
    public int[] CachedAt = [];
    public DecodingSequence View = null!;

    public void Reset(int length)
    {
        if (Order.Length < length)
        {
            Order = new int[length];
            SlotTokens = new int[length];
            ByPosition = new int[length];
            IsKnown = new bool[length];
            Work = new int[length];
        }

        if (CachedRanges.Length < length)
        {
            CachedRanges = new KeyRange[length];
            CachedAt = new int[length];
        }

        Length = length;
        Array.Clear(IsKnown, 0, length);
        Array.Clear(CachedRanges, 0, length);
        Array.Clear(CachedAt, 0, length);
        Known = StepIndex = Done = Prev = Remaining = Frontier = Block = BlockStep = PrefixLength = ReportedPrefix = 0;
        OutStart = OutCount = Forwards = DiffusionTokens = 0;
        EndedWithEos = Finished = ReportedFinished = false;
        ReportedText = null;
        Plan = null;
    }
}

/// <summary>
/// The shared step loop of every sampler: per-sequence windows into one <see cref="ForwardBatch"/>, one forward per
/// step for all sequences that need one, token choice per row, prefix/EOS bookkeeping, streaming. Owns every buffer;
/// steady-state steps allocate nothing (unless streaming).
/// </summary>
internal sealed class SamplingEngine
{
    private readonly ForwardBatch _batch = new();
    private readonly List<SequenceState> _pool = [];
    private readonly List<TokenCommit> _commits = [];
    private float[] _logits = [];
    private int[] _wTokens = [];
    private int[] _wPositions = [];
    private KeyRange[] _wRanges = [];
    private int[] _chosen = [];
    private DrawKey[] _keys = [];
    private TokenSelector[] _selectors = [];
    private int _busy;
    private int _active;
    private bool _record;

    public SamplingEngine(INetwork model, SamplerOptions options, DecodingStrategy strategy)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(strategy);
        options.Validate(model.Config);
        Model = model;
        Options = options;
        Strategy = strategy;
        Workspace = model.CreateWorkspace();
        Selector = new TokenSelector(model.Config.VocabSize, model.Config.MaskTokenId, options.Selection, options.NoiseSource);
        MaskId = model.Config.MaskTokenId;
    }

    public INetwork Model { get; }

    public SamplerOptions Options { get; }

    public DecodingStrategy Strategy { get; }

    public IForwardWorkspace Workspace { get; }

    public TokenSelector Selector { get; }

    public int MaskId { get; }

    public int SequenceCount { get; private set; }

    public int ForwardPasses { get; private set; }

    public long TokensProcessed { get; private set; }

    public int BatchStep { get; private set; }

    public SequenceState this[int i] => _pool[i];

    /// <summary>Scratch for one window (tokens, positions, key ranges) of at least <paramref name="n"/> rows.</summary>
    public (int[] Tokens, int[] Positions, KeyRange[] Ranges) Scratch(int n)
    {
        if (_wTokens.Length < n)
        {
            int size = Math.Max(n, _wTokens.Length * 2);
            _wTokens = new int[size];
            _wPositions = new int[size];
            _wRanges = new KeyRange[size];
        }

        return (_wTokens, _wPositions, _wRanges);
    }

    /// <summary>Adds a window (copied by the batch) and records where its output rows land.</summary>
    public void AddWindow(SequenceState s, int writeSlot, int rows, int outputStart, int outputCount)
    {
        s.OutStart = _batch.OutputRowCount;
        s.OutCount = outputCount;
        _batch.Add(s.Cache!, writeSlot, _wTokens.AsSpan(0, rows), _wPositions.AsSpan(0, rows), _wRanges.AsSpan(0, rows), outputStart, outputCount);
    }

    /// <summary>When set, tokens are copied from this engine (which stepped first) instead of chosen: the cache self-check.</summary>
    public SamplingEngine? Leader { get; set; }

    /// <summary>The token chosen for output row <paramref name="row"/> of a sequence (selected for all rows before commits).</summary>
    public int Choose(SequenceState s, int row, int position) =>
        Leader is { } leader ? leader[s.RequestIndex].ByPosition[position] : _chosen[s.OutStart + row];

    /// <summary>
    /// Chooses a token for every output row of the pass: rows are independent pure functions of (logits, draw key), so
    /// they are split over the compute context's threads (strided, one selector per thread) and the result does not
    /// depend on the thread count. Custom noise sources run on the calling thread.
    /// </summary>
    private void SelectAll(int vocab)
    {
        if (Leader is not null)
        {
            return;
        }

        int rows = _batch.OutputRowCount;
        if (_chosen.Length < rows)
        {
            _chosen = new int[Math.Max(rows, _chosen.Length * 2)];
            _keys = new DrawKey[_chosen.Length];
        }

        for (int i = 0; i < SequenceCount; i++)
        {
            var s = _pool[i];
            if (!s.Added)
            {
                continue;
            }

            for (int r = 0; r < s.OutCount; r++)
            {
                var (step, position) = Strategy.DrawKey(s.View, r);
                _keys[s.OutStart + r] = new DrawKey(s.Seed, s.SequenceId, step, position);
            }
        }

        int threads = Options.NoiseSource is null ? Math.Min(rows, Model.HostThreads) : 1;
        if (threads <= 1)
        {
            for (int i = 0; i < rows; i++)
            {
                _chosen[i] = Selector.Select(_logits.AsSpan(i * vocab, vocab), _keys[i]);
            }

            return;
        }

        if (_selectors.Length < threads)
        {
            var grown = new TokenSelector[threads];
            _selectors.CopyTo(grown, 0);
            grown[0] = Selector;
            for (int t = Math.Max(1, _selectors.Length); t < threads; t++)
            {
                grown[t] = new TokenSelector(vocab, MaskId, Options.Selection, Options.NoiseSource);
            }

            _selectors = grown;
        }

        // On the engine's worker pool, not Parallel.For: its worker is still spinning from the forward pass (a thread-pool
        // thread would compete with it for the cores) and stays awake for the next pass. Each task owns one selector and
        // takes rows from a shared counter, so uneven rows balance.
        var body = new SelectionTasks(this, rows);
        ParallelTasks.Run(threads, threads, ref body);
    }

    /// <summary>Token selection of one step: task t selects with selector t, rows taken in turn from a shared counter.</summary>
    private struct SelectionTasks(SamplingEngine engine, int rows) : ITaskBody
    {
        private int _next;

        public void Run(int task)
        {
            var selector = engine._selectors[task];
            int vocab = engine.Model.Config.VocabSize;
            int i;
            while ((i = Interlocked.Increment(ref _next) - 1) < rows)
            {
                engine._chosen[i] = selector.Select(engine._logits.AsSpan(i * vocab, vocab), engine._keys[i]);
            }
        }
    }

    /// <summary>The logits rows the last step computed for a sequence (empty if it was not in the batch).</summary>
    public ReadOnlySpan<float> RowLogits(SequenceState s) =>
        s.Added ? _logits.AsSpan(s.OutStart * Model.Config.VocabSize, s.OutCount * Model.Config.VocabSize) : default;

    /// <summary>Writes a committed token at an original position.</summary>
    public void CommitToken(SequenceState s, int position, int token, SamplingPhase phase, int step)
    {
        s.ByPosition[position] = token;
        if (_record)
        {
            _commits.Add(new TokenCommit(s.RequestIndex, s.SequenceId, position, token, phase, step));
        }
    }

    public void Acquire()
    {
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            throw new InvalidOperationException("This sampler is already generating; a sampler runs one call at a time (create one per concurrent caller).");
        }
    }

    public void Release() => Volatile.Write(ref _busy, 0);

    /// <summary>Validates the requests and prepares every sequence (no forward pass yet).</summary>
    public void Start(IReadOnlyList<SamplingRequest> requests, bool record)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentOutOfRangeException.ThrowIfZero(requests.Count, nameof(requests));
        var config = Model.Config;
        int length = Options.ResolveLength(config);
        _record = record;
        _commits.Clear();
        ForwardPasses = 0;
        TokensProcessed = 0;
        BatchStep = 0;
        SequenceCount = requests.Count;
        while (_pool.Count < requests.Count)
        {
            var state = new SequenceState();
            state.View = new DecodingSequence(this, state);
            _pool.Add(state);
        }

        for (int i = 0; i < requests.Count; i++)
        {
            var request = requests[i] ?? throw new ArgumentException($"Request {i} is null.", nameof(requests));
            var s = _pool[i];
            s.Reset(length);
            s.RequestIndex = i;
            s.SequenceId = request.SequenceId;
            s.Seed = request.Seed;
            if (s.Cache is null || s.Cache.Capacity < length)
            {
                s.Cache = Options.KvCacheFactory?.Create(Model, config.ContextLength) ?? Model.CreateCache(config.ContextLength);
                if (s.Cache.Capacity < length)
                {
                    throw new InvalidOperationException(
                        $"The KV cache factory '{Options.KvCacheFactory?.Name}' returned a cache that does not fit the model (capacity {s.Cache.Capacity}, need {length}).");
                }
            }

            s.Cache.Reset();
            PlaceKnown(s, request, i, length, config);
            Strategy.Initialize(s.View, request);
            s.Remaining = length - s.Known;
            if (_record)
            {
                for (int k = 0; k < s.Known; k++)
                {
                    _commits.Add(new TokenCommit(i, s.SequenceId, s.Order[k], s.SlotTokens[k], SamplingPhase.Known, -1));
                }
            }

            AdvancePrefix(s);
        }
    }

    private void PlaceKnown(SequenceState s, SamplingRequest request, int index, int length, ModelConfig config)
    {
        var by = s.ByPosition.AsSpan(0, length);
        by.Fill(MaskId);
        var prompt = request.Prompt;
        int p = prompt?.Count ?? 0;
        if (p > length)
        {
            throw new ArgumentOutOfRangeException(nameof(request), p,
                $"Request {index}: the prompt has {p} tokens, longer than the sequence length {length} (model context {config.ContextLength}).");
        }

        for (int i = 0; i < p; i++)
        {
            SetKnown(s, index, i, prompt![i], config, "prompt");
        }

        if (request.KnownTokens is { } known)
        {
            foreach (var kt in known)
            {
                if ((uint)kt.Position >= (uint)length)
                {
                    throw new ArgumentOutOfRangeException(nameof(request), kt.Position,
                        $"Request {index}: known position {kt.Position} is outside the sequence [0, {length}).");
                }

                if (s.IsKnown[kt.Position])
                {
                    throw new ArgumentException($"Request {index}: position {kt.Position} is given twice (known tokens / prompt).", nameof(request));
                }

                SetKnown(s, index, kt.Position, kt.TokenId, config, "known token");
            }
        }

        // Known positions come first in the generation order (ascending), unknown ones after, for the method to order.
        int c = 0;
        for (int pos = 0; pos < length; pos++)
        {
            if (s.IsKnown[pos])
            {
                s.Order[c] = pos;
                s.SlotTokens[c] = by[pos];
                c++;
            }
        }

        s.Known = c;
        for (int pos = 0; pos < length; pos++)
        {
            if (!s.IsKnown[pos])
            {
                s.Order[c] = pos;
                s.SlotTokens[c] = MaskId;
                c++;
            }
        }
    }

    private void SetKnown(SequenceState s, int index, int position, int token, ModelConfig config, string what)
    {
        if ((uint)token >= (uint)config.VocabSize || token == MaskId)
        {
            throw new ArgumentOutOfRangeException(nameof(token), token,
                $"Request {index}: {what} id {token} at position {position} must be in [0, {config.VocabSize}) and not the mask id {MaskId}.");
        }

        s.IsKnown[position] = true;
        s.ByPosition[position] = token;
    }

    /// <summary>
    /// Applies a request's explicit order (or draws one) over the unknown positions into Order[Known..]: slot Known+i
    /// gets the i-th decoded position. <paramref name="diffusionTokens"/> heads the order; the tail is sorted.
    /// </summary>
    public static void OrderUnknown(SequenceState s, SamplingRequest request, int diffusionTokens, int maskId)
    {
        int n = s.Length - s.Known;
        var unknown = s.Order.AsSpan(s.Known, n);
        var work = s.Work.AsSpan(0, n);
        unknown.CopyTo(work);
        if (request.GenerationOrder is { } given)
        {
            if (given.Count != n)
            {
                throw new ArgumentException($"GenerationOrder has {given.Count} positions; {n} are unknown.", nameof(request));
            }

            for (int i = 0; i < n; i++)
            {
                int pos = given[i];
                if ((uint)pos >= (uint)s.Length || s.IsKnown[pos])
                {
                    throw new ArgumentException($"GenerationOrder entry {i} = {pos} is not an unknown position of the sequence.", nameof(request));
                }

                unknown[i] = pos;
            }

            var check = s.Work.AsSpan(0, n);
            unknown.CopyTo(check);
            check.Sort();
            for (int i = 1; i < n; i++)
            {
                if (check[i] == check[i - 1])
                {
                    throw new ArgumentException($"GenerationOrder lists position {check[i]} twice.", nameof(request));
                }
            }

            return;
        }

        // work = ascending unknown positions; draw a permutation of indices and map it.
        var perm = s.SlotTokens.AsSpan(s.Known, n); // all masks before generation: borrowed as scratch, restored below
        StepPlanner.GenerationOrder(s.Seed, s.SequenceId, diffusionTokens, perm);
        for (int i = 0; i < n; i++)
        {
            unknown[i] = work[perm[i]];
        }

        perm.Fill(maskId);
    }

    /// <summary>Runs one batched step; false when every sequence is finished.</summary>
    public bool Step(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _commits.Clear();
        _batch.Clear();
        _active = 0;
        for (int i = 0; i < SequenceCount; i++)
        {
            var s = _pool[i];
            s.Added = false;
            if (s.Finished)
            {
                continue;
            }

            if (Strategy.AddWindow(s.View))
            {
                s.Added = true;
                _active++;
            }
            else
            {
                s.Finished = true;
                s.OutCount = 0;
            }
        }

        if (_active == 0)
        {
            return false;
        }

        int v = Model.Config.VocabSize;
        int need = _batch.OutputRowCount * v;
        if (_logits.Length < need)
        {
            _logits = new float[Math.Max(need, _logits.Length * 3 / 2)];
        }

        Model.Forward(_batch, Workspace, ForwardOutput.Logits, _logits);
        ForwardPasses++;
        TokensProcessed += _batch.RowCount;
        var profile = InferenceProfile.Active;
        long selectStart = profile is null ? 0 : InferenceProfile.Start();
        SelectAll(v);
        profile?.Stop(InferencePhase.Selection, selectStart);
        for (int i = 0; i < SequenceCount; i++)
        {
            var s = _pool[i];
            if (!s.Added)
            {
                continue;
            }

            s.Forwards++;
            Strategy.Commit(s.View, _logits.AsSpan(s.OutStart * v, s.OutCount * v));
            AdvancePrefix(s);
        }

        BatchStep++;
        return true;
    }

    private void AdvancePrefix(SequenceState s)
    {
        var by = s.ByPosition;
        int eos = Options.EosTokenId ?? -1;
        while (s.PrefixLength < s.Length && by[s.PrefixLength] != MaskId)
        {
            if (by[s.PrefixLength] == eos && !s.IsKnown[s.PrefixLength])
            {
                s.EndedWithEos = true;
                s.Finished = true;
                return;
            }

            s.PrefixLength++;
        }

        if (s.PrefixLength == s.Length)
        {
            s.Finished = true;
        }
    }

    public SamplingResult Result(TimeSpan elapsed)
    {
        var list = new GeneratedSequence[SequenceCount];
        for (int i = 0; i < SequenceCount; i++)
        {
            var s = _pool[i];
            int n = s.EndedWithEos ? s.PrefixLength : s.Length;
            list[i] = new GeneratedSequence(i, s.SequenceId, s.ByPosition.AsSpan(0, n).ToArray(), s.EndedWithEos, s.DiffusionTokens, s.Forwards,
                s.Order.AsSpan(0, s.Length).ToArray());
        }

        return new SamplingResult(list, ForwardPasses, TokensProcessed, elapsed);
    }

    public SamplingResult Run(IReadOnlyList<SamplingRequest> requests, CancellationToken cancellationToken)
    {
        Acquire();
        try
        {
            var sw = Stopwatch.StartNew();
            Start(requests, record: false);
            while (Step(cancellationToken))
            {
            }

            return Result(sw.Elapsed);
        }
        finally
        {
            Release();
        }
    }

    public IAsyncEnumerable<SamplingUpdate> RunStreaming(IReadOnlyList<SamplingRequest> requests, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentOutOfRangeException.ThrowIfZero(requests.Count, nameof(requests));
        return Iterate(requests, cancellationToken);
    }

    private async IAsyncEnumerable<SamplingUpdate> Iterate(IReadOnlyList<SamplingRequest> requests,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Acquire();
        try
        {
            var sw = Stopwatch.StartNew();
            Start(requests, record: true);
            var known = _commits.ToArray();
            int step = 0;
            bool more = true;
            while (more)
            {
                await Task.Yield();
                more = Step(cancellationToken);
                var commits = step == 0 ? [.. known, .. _commits] : _commits.ToArray();
                var prefixes = CollectPrefixes();
                SamplingResult? result = more ? null : Result(sw.Elapsed);
                if (more || commits.Length > 0 || prefixes.Count > 0 || result is not null)
                {
                    yield return new SamplingUpdate(step, ForwardPasses, commits, prefixes, result);
                }

                step++;
            }
        }
        finally
        {
            Release();
        }
    }

    private List<PrefixUpdate> CollectPrefixes()
    {
        var list = new List<PrefixUpdate>();
        var decoder = Options.Decoder;
        for (int i = 0; i < SequenceCount; i++)
        {
            var s = _pool[i];
            bool finishedNow = s.Finished && !s.ReportedFinished;
            if (s.PrefixLength == s.ReportedPrefix && !finishedNow)
            {
                continue;
            }

            var tokens = s.ByPosition.AsSpan(0, s.PrefixLength).ToArray();
            string? text = null, newText = null;
            if (decoder is not null)
            {
                text = decoder(tokens);
                var old = s.ReportedText ?? string.Empty;
                newText = text.StartsWith(old, StringComparison.Ordinal) ? text[old.Length..] : text;
                s.ReportedText = text;
            }

            list.Add(new PrefixUpdate(i, s.SequenceId, s.ReportedPrefix, tokens, text, newText, s.Finished));
            s.ReportedPrefix = s.PrefixLength;
            s.ReportedFinished = s.Finished;
        }

        return list;
    }
}
