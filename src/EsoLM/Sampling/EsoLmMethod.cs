using EsoLM.Masks;
using EsoLM.Tensors;

namespace EsoLM.Sampling;

/// <summary>
/// Eso-LM sampling (spec §4.2–4.5) in generation-order slots: known tokens occupy slots 0..K−1, then the planned
/// diffusion tokens, then the sequential tokens left to right.
/// (B) cached: each step feeds the previous step's now-clean tokens + this step's masks at cache slots
/// [done − prev, done + k), causal inside, seeing the whole cache (the known tokens are the first step's "previous"
/// tokens, so they are encoded in the first pass).
/// (A) cached: diffusion steps recompute the clean set bidirectionally (mixed2 over slots [0, done + k), future masks
/// invisible); the first sequential step encodes the final clean set that way into the cache, later sequential steps
/// are (B)-style cached steps (causal over the cache).
/// Uncached (either variant): the whole sequence every step under the same mask rule (for checking the cache).
/// </summary>
internal sealed class EsoLmMethod : SamplingMethod
{
    private readonly EsoLmVariant _variant;
    private readonly bool _cached;
    private readonly int? _steps;
    private readonly double _alpha;
    private readonly Schedules.INoiseSchedule _schedule;
    private readonly StepPlan? _fixed;

    public EsoLmMethod(EsoLmVariant variant, bool cached, int? steps, double alphaEval, Schedules.INoiseSchedule schedule, StepPlan? fixedPlan)
    {
        _variant = variant;
        _cached = cached;
        _steps = steps;
        _alpha = alphaEval;
        _schedule = schedule;
        _fixed = fixedPlan;
    }

    public override void Initialize(SamplingEngine engine, SequenceState s, SamplingRequest request)
    {
        int n = s.Length - s.Known;
        StepPlan plan;
        if (_fixed is not null)
        {
            if (_fixed.TotalTokens != n)
            {
                throw new ArgumentException(
                    $"Request {s.RequestIndex}: the fixed plan decodes {_fixed.TotalTokens} tokens but {n} positions are unknown.", nameof(request));
            }

            plan = _fixed;
        }
        else
        {
            plan = StepPlanner.Plan(n, _steps ?? Math.Max(1, n), _alpha, _schedule, s.Seed);
        }

        s.Plan = plan;
        s.DiffusionTokens = plan.DiffusionTokens;
        SamplingEngine.OrderUnknown(s, request, plan.DiffusionTokens, engine.MaskId);
        s.Done = s.Known;
        s.Prev = s.Known;
    }

    public override bool AddWindow(SamplingEngine engine, SequenceState s)
    {
        var plan = s.Plan!;
        if (s.StepIndex >= plan.StepCount)
        {
            return false;
        }

        int k = plan.StepSpan[s.StepIndex];
        int done = s.Done, mask = engine.MaskId;
        if (!_cached)
        {
            int length = s.Length;
            var (tok, pos, ranges) = engine.Scratch(length);
            s.SlotTokens.AsSpan(0, length).CopyTo(tok);
            s.Order.AsSpan(0, length).CopyTo(pos);
            int clean = Math.Min(done, s.Known + plan.DiffusionTokens);
            MaskRules.Diffusion(_variant, length, clean, ranges.AsSpan(0, length));
            engine.AddWindow(s, 0, length, done, k);
            return true;
        }

        bool recomputeClean = _variant == EsoLmVariant.A && s.StepIndex <= plan.DiffusionSteps;
        int start = recomputeClean ? 0 : done - s.Prev;
        int window = done + k - start;
        var (t, p, r) = engine.Scratch(window);
        for (int i = 0; i < window; i++)
        {
            int slot = start + i;
            t[i] = slot < done ? s.SlotTokens[slot] : mask;
            p[i] = s.Order[slot];
        }

        if (recomputeClean)
        {
            MaskRules.Diffusion(EsoLmVariant.A, window, done, r.AsSpan(0, window));
        }
        else
        {
            MaskRules.CausalWindow(start, window, r);
        }

        engine.AddWindow(s, start, window, done - start, k);
        return true;
    }

    public override (int Step, int Position) RowKey(SequenceState s, int row) => (s.StepIndex, s.Order[s.Done + row]);

    public override void Commit(SamplingEngine engine, SequenceState s, ReadOnlySpan<float> logits)
    {
        var plan = s.Plan!;
        int k = s.OutCount, step = s.StepIndex;
        var phase = step < plan.DiffusionSteps ? SamplingPhase.Diffusion : SamplingPhase.Sequential;
        for (int r = 0; r < k; r++)
        {
            int slot = s.Done + r, position = s.Order[slot];
            int token = engine.Choose(s, r, position);
            s.SlotTokens[slot] = token;
            engine.CommitToken(s, position, token, phase, step);
        }

        s.Done += k;
        s.Prev = k;
        s.StepIndex++;
    }
}
