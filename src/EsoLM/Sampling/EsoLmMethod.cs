using EsoLM.Masks;
using EsoLM.Randomness;
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
/// The key ranges come from an <see cref="IAttentionMaskPolicy"/> (its diffusion-mode ranges over the fed prefix, with the
/// clean count fixed at the diffusion tokens during the sequential phase, spec §3 "sampling masks"); which cached slots
/// can be reused is derived from those ranges, so a user's policy (e.g. sliding-window causal) is cached exactly where
/// it allows and recomputed where it does not (variant A's bidirectional clean set).
/// </summary>
internal sealed class EsoLmMethod : DecodingStrategy
{
    private readonly IAttentionMaskPolicy _policy;
    private readonly bool _cached;
    private KeyRange[] _prefix = [];
    private readonly int? _steps;
    private readonly double _alpha;
    private readonly Schedules.INoiseSchedule _schedule;
    private readonly StepPlan? _fixed;

    public EsoLmMethod(IAttentionMaskPolicy policy, bool cached, int? steps, double alphaEval, Schedules.INoiseSchedule schedule, StepPlan? fixedPlan)
    {
        _policy = policy;
        _cached = cached;
        _steps = steps;
        _alpha = alphaEval;
        _schedule = schedule;
        _fixed = fixedPlan;
    }

    public override void Initialize(DecodingSequence sequence, SamplingRequest request)
    {
        var (engine, s) = (sequence.Engine, sequence.State);
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

    public override bool AddWindow(DecodingSequence sequence)
    {
        var (engine, s) = (sequence.Engine, sequence.State);
        var plan = s.Plan!;
        if (s.StepIndex >= plan.StepCount)
        {
            return false;
        }

        int k = plan.StepSpan[s.StepIndex];
        int done = s.Done, mask = engine.MaskId;
        int clean = Math.Min(done, s.Known + plan.DiffusionTokens);
        if (!_cached)
        {
            int length = s.Length;
            var (tok, pos, ranges) = engine.Scratch(length);
            s.SlotTokens.AsSpan(0, length).CopyTo(tok);
            s.Order.AsSpan(0, length).CopyTo(pos);
            _policy.Diffusion(length, clean, ranges.AsSpan(0, length));
            engine.AddWindow(s, 0, length, done, k);
            return true;
        }

        // The policy's ranges over the prefix that exists now (clean slots, then this step's masks; later masks are not fed).
        int end = done + k;
        if (_prefix.Length < end)
        {
            _prefix = new KeyRange[Math.Max(end, 2 * _prefix.Length)];
        }

        var prefix = _prefix.AsSpan(0, end);
        _policy.Diffusion(end, clean, prefix);

        // Reuse cached slots [0, start): each must have been written with the same ranges, seeing only slots that were
        // final then, and none may see a slot that is rewritten now. Everything from start on is fed again.
        int start = done - s.Prev;
        for (int m = 0; m < start; m++)
        {
            var range = prefix[m];
            if (range != s.CachedRanges[m] || range.MaxEnd > s.CachedAt[m] || range.MaxEnd > start)
            {
                start = m;
                m = -1; // the bound shrank: check the reused slots again
            }
        }

        int window = end - start;
        var (t, p, r) = engine.Scratch(window);
        for (int i = 0; i < window; i++)
        {
            int slot = start + i;
            t[i] = slot < done ? s.SlotTokens[slot] : mask;
            p[i] = s.Order[slot];
            r[i] = prefix[slot];
            s.CachedRanges[slot] = prefix[slot];
            s.CachedAt[slot] = done;
        }

        engine.AddWindow(s, start, window, done - start, k);
        return true;
    }

    public override (int Step, int Position) DrawKey(DecodingSequence sequence, int row)
    {
        var s = sequence.State;
        return (s.StepIndex, s.Order[s.Done + row]);
    }

    public override void Commit(DecodingSequence sequence, ReadOnlySpan<float> logits)
    {
        var (engine, s) = (sequence.Engine, sequence.State);
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
