using EsoLM.Masks;
using EsoLM.Randomness;
using EsoLM.Tensors;

namespace EsoLM.Sampling;

/// <summary>
/// MDLM ancestral sampling (α_eval = 1): at time step i every still-masked position is unmasked with probability
/// p_i = (α_s − α_t)/(1 − α_t) (the last step has p = 1) and, if so, gets a token drawn from the network's prediction
/// for the current sequence. The unmask decisions are counter-based and independent of the logits, so they are drawn
/// first: a step that unmasks nothing leaves the sequence unchanged and costs no forward pass (MDLM's "reuse the
/// prediction when nothing changed" shortcut, in its lazy form — NFE counts real passes), and a pass only computes
/// logits for the positions unmasked now. The network sees the whole sequence bidirectionally; slots are arranged
/// clean tokens, then the positions unmasked now, then the other masks (slot order is irrelevant under bidirectional
/// attention: every token keeps its original rotary position).
/// </summary>
internal sealed class MdlmMethod : DecodingStrategy
{
    private readonly double[] _p;
    private readonly bool _oneToken;

    private readonly IAttentionMaskPolicy _policy;

    public MdlmMethod(IAttentionMaskPolicy policy, int steps, Schedules.INoiseSchedule schedule, bool oneTokenPerStep = false)
    {
        _policy = policy;
        _p = StepPlanner.UnmaskProbabilities(steps, 1.0, schedule);
        _oneToken = oneTokenPerStep;
    }

    /// <summary>One-token-per-step mode: the masked position in [start, end) with the smallest unmask key of the step, or −1.</summary>
    internal static int Pick(SequenceState s, CounterRandom rng, int step, int start, int end, int mask)
    {
        int pick = -1;
        double best = 2;
        for (int pos = start; pos < end; pos++)
        {
            if (s.ByPosition[pos] == mask)
            {
                double key = rng.NextDouble(DrawPurpose.Unmask, step, pos);
                if (key < best)
                {
                    best = key;
                    pick = pos;
                }
            }
        }

        return pick;
    }

    public override void Initialize(DecodingSequence sequence, SamplingRequest request) => sequence.DiffusionTokens = sequence.Length - sequence.KnownCount;

    public override bool AddWindow(DecodingSequence sequence)
    {
        var (engine, s) = (sequence.Engine, sequence.State);
        int length = s.Length, mask = engine.MaskId;
        var rng = new CounterRandom(s.Seed, s.SequenceId);
        for (; _oneToken || s.StepIndex < _p.Length; s.StepIndex++)
        {
            int pick = _oneToken ? Pick(s, rng, s.StepIndex, 0, length, mask) : -1;
            if (_oneToken && pick < 0)
            {
                return false;
            }

            double p = _oneToken ? 0 : s.StepIndex == _p.Length - 1 ? 1.0 : _p[s.StepIndex];
            // Work: [clean | unmasked now | still masked] positions.
            int clean = 0, now = 0;
            for (int pos = 0; pos < length; pos++)
            {
                if (s.ByPosition[pos] != mask)
                {
                    clean++;
                }
            }

            int nowStart = clean, restStart = length;
            int c = 0;
            for (int pos = 0; pos < length; pos++)
            {
                if (s.ByPosition[pos] != mask)
                {
                    s.Work[c++] = pos;
                }
                else if (_oneToken ? pos == pick : rng.NextDouble(DrawPurpose.Unmask, s.StepIndex, pos) < p)
                {
                    s.Work[nowStart + now++] = pos;
                }
                else
                {
                    s.Work[--restStart] = pos;
                }
            }

            if (now == 0)
            {
                continue;
            }

            var (t, ps, r) = engine.Scratch(length);
            for (int i = 0; i < length; i++)
            {
                int pos = s.Work[i];
                t[i] = s.ByPosition[pos];
                ps[i] = pos;
            }

            _policy.Diffusion(length, clean, r.AsSpan(0, length)); // MDLM: bidirectional over the whole sequence
            s.Block = now;
            engine.AddWindow(s, 0, length, clean, now);
            return true;
        }

        return false;
    }

    public override (int Step, int Position) DrawKey(DecodingSequence sequence, int row)
    {
        var s = sequence.State;
        return (s.StepIndex, s.Work[s.Length - s.Remaining + row]);
    }

    public override void Commit(DecodingSequence sequence, ReadOnlySpan<float> logits)
    {
        var (engine, s) = (sequence.Engine, sequence.State);
        int clean = s.Length - s.Remaining;
        for (int r = 0; r < s.OutCount; r++)
        {
            int position = s.Work[clean + r];
            int token = engine.Choose(s, r, position);
            engine.CommitToken(s, position, token, SamplingPhase.Diffusion, s.StepIndex);
        }

        s.Remaining -= s.OutCount;
        s.StepIndex++;
    }
}

/// <summary>
/// BD3-LM-style block diffusion: blocks of L′ positions left to right; inside the current block, MDLM ancestral steps
/// (bidirectional within the block, every earlier block visible through the KV cache). The key ranges come from a mask
/// policy (by default <see cref="BlockCausalMaskPolicy"/>, evaluated over the slots [0, block end)). Cache slots are original
/// positions. A finished block's clean K/V are written by folding it into the next block's first pass (the window is
/// [finished block ; current block], block-causal), so no extra pass is spent; the last block needs none. Known
/// tokens are clean from the start; blocks that are fully known are encoded by the first pass the same way.
/// </summary>
internal sealed class BlockDiffusionMethod : DecodingStrategy
{
    private readonly int _blockSize;
    private readonly double[] _p;
    private readonly bool _oneToken;
    private readonly IAttentionMaskPolicy _policy;
    private KeyRange[] _prefix = [];

    public BlockDiffusionMethod(int blockSize, int stepsPerBlock, Schedules.INoiseSchedule schedule, bool oneTokenPerStep = false,
        IAttentionMaskPolicy? policy = null)
    {
        _blockSize = blockSize;
        _policy = policy ?? new BlockCausalMaskPolicy(blockSize);
        _p = StepPlanner.UnmaskProbabilities(stepsPerBlock, 1.0, schedule);
        _oneToken = oneTokenPerStep;
    }

    public override void Initialize(DecodingSequence sequence, SamplingRequest request) => sequence.DiffusionTokens = sequence.Length - sequence.KnownCount;

    public override bool AddWindow(DecodingSequence sequence)
    {
        var (engine, s) = (sequence.Engine, sequence.State);
        int length = s.Length, mask = engine.MaskId, bs = _blockSize;
        var rng = new CounterRandom(s.Seed, s.SequenceId);
        while (s.Block * bs < length)
        {
            int blockStart = s.Block * bs, blockEnd = Math.Min(length, blockStart + bs);
            int masked = 0;
            for (int pos = blockStart; pos < blockEnd; pos++)
            {
                masked += s.ByPosition[pos] == mask ? 1 : 0;
            }

            if (masked == 0)
            {
                s.Block++;
                s.BlockStep = 0;
                continue;
            }

            for (; s.BlockStep < _p.Length; s.BlockStep++)
            {
                double p = s.BlockStep == _p.Length - 1 ? 1.0 : _p[s.BlockStep];
                int step = (s.Block * _p.Length) + s.BlockStep;
                int pick = _oneToken ? MdlmMethod.Pick(s, rng, step, blockStart, blockEnd, mask) : -1;
                int n = blockEnd - blockStart, clean = n - masked, now = 0, rest = n;
                var work = s.Work.AsSpan(blockStart, n);
                int c = 0;
                for (int pos = blockStart; pos < blockEnd; pos++)
                {
                    if (s.ByPosition[pos] != mask)
                    {
                        work[c++] = pos;
                    }
                    else if (_oneToken ? pos == pick : rng.NextDouble(DrawPurpose.Unmask, step, pos) < p)
                    {
                        work[clean + now++] = pos;
                    }
                    else
                    {
                        work[--rest] = pos;
                    }
                }

                if (now == 0)
                {
                    continue;
                }

                // Window: finished blocks not yet cached [frontier, blockStart) in natural order, then this block arranged.
                int start = s.Frontier, rows = blockEnd - start;
                // Key ranges: the policy's (block-causal by default) over the slots that exist now, [0, blockEnd).
                if (_prefix.Length < blockEnd)
                {
                    _prefix = new KeyRange[Math.Max(blockEnd, 2 * _prefix.Length)];
                }

                _policy.Diffusion(blockEnd, blockStart + clean, _prefix.AsSpan(0, blockEnd));
                var (t, ps, r) = engine.Scratch(rows);
                for (int i = 0; i < rows; i++)
                {
                    int slot = start + i;
                    int pos = slot < blockStart ? slot : work[slot - blockStart];
                    t[i] = s.ByPosition[pos];
                    ps[i] = pos;
                    r[i] = _prefix[slot];
                }

                s.StepIndex = step;
                engine.AddWindow(s, start, rows, blockStart - start + clean, now);
                s.Frontier = blockStart;
                s.Prev = blockStart + clean; // slot of the first output row
                return true;
            }

            s.Block++;
            s.BlockStep = 0;
        }

        return false;
    }

    public override (int Step, int Position) DrawKey(DecodingSequence sequence, int row)
    {
        var s = sequence.State;
        return (s.StepIndex, s.Work[s.Prev + row]);
    }

    public override void Commit(DecodingSequence sequence, ReadOnlySpan<float> logits)
    {
        var (engine, s) = (sequence.Engine, sequence.State);
        for (int r = 0; r < s.OutCount; r++)
        {
            int position = s.Work[s.Prev + r];
            int token = engine.Choose(s, r, position);
            engine.CommitToken(s, position, token, SamplingPhase.Diffusion, s.StepIndex);
        }

        s.BlockStep++;
    }
}

/// <summary>
/// The AR timing proxy: one token per pass, slot i fed the token chosen at slot i−1 (the mask id at slot 0), causal over
/// the cache. The known tokens are fed in the first pass. Cost of a shift-by-one AR decoder; not a sample of the model.
/// </summary>
internal sealed class OneTokenPerStepMethod : DecodingStrategy
{
    public override void Initialize(DecodingSequence sequence, SamplingRequest request)
    {
        var (engine, s) = (sequence.Engine, sequence.State);
        s.Done = s.Known;
        s.DiffusionTokens = 0;
    }

    public override bool AddWindow(DecodingSequence sequence)
    {
        var (engine, s) = (sequence.Engine, sequence.State);
        if (s.Done >= s.Length)
        {
            return false;
        }

        int start = s.StepIndex == 0 ? 0 : s.Done, rows = s.Done - start + 1;
        var (t, p, r) = engine.Scratch(rows);
        for (int i = 0; i < rows; i++)
        {
            int slot = start + i;
            t[i] = slot == 0 ? engine.MaskId : s.SlotTokens[slot - 1];
            p[i] = s.Order[slot];
        }

        MaskRules.CausalWindow(start, rows, r);
        engine.AddWindow(s, start, rows, rows - 1, 1);
        return true;
    }

    public override (int Step, int Position) DrawKey(DecodingSequence sequence, int row)
    {
        var s = sequence.State;
        return (s.StepIndex, s.Order[s.Done]);
    }

    public override void Commit(DecodingSequence sequence, ReadOnlySpan<float> logits)
    {
        var (engine, s) = (sequence.Engine, sequence.State);
        int slot = s.Done, position = s.Order[slot];
        int token = engine.Choose(s, 0, position);
        s.SlotTokens[slot] = token;
        engine.CommitToken(s, position, token, SamplingPhase.Sequential, s.StepIndex);
        s.Done++;
        s.StepIndex++;
    }
}
