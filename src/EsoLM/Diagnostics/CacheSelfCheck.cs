using EsoLM.Backends;
using EsoLM.Modeling;

using EsoLM.Sampling;

namespace EsoLM.Diagnostics;

/// <summary>
/// Checks the Eso-LM KV cache on a model: runs one sampling plan twice in lockstep — with the cache, and with a full
/// forward of the whole partially decoded sequence every step (the same tokens are fed to both) — and reports the
/// largest logit difference. Run it after loading a converted checkpoint; float32 rounding gives about 1e-5.
/// </summary>
public static class CacheSelfCheck
{
    /// <summary>Runs the check.</summary>
    /// <param name="model">The network.</param>
    /// <param name="options">Sampler options (variant, steps, α_eval, length…); <c>UseKvCache</c> is ignored. Default: variant B, α_eval 0.5.</param>
    /// <param name="batch">Sequences (rows) to check at once (≥ 1).</param>
    /// <param name="seed">Seed of the plan, orders and tokens.</param>
    /// <param name="tolerance">Passing threshold (&gt; 0).</param>
    /// <param name="cancellationToken">Cancels between steps.</param>
    public static CacheCheckResult Run(INetwork model, EsoLmSamplerOptions? options = null, int batch = 2, ulong seed = 0,
        double tolerance = 1e-3, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tolerance);
        options ??= new EsoLmSamplerOptions { AlphaEval = 0.5 };
        options.Validate(model.Config);
        var cached = new SamplingEngine(model, options with { UseKvCache = true },
            new EsoLmMethod(options.EffectiveMaskPolicy, true, options.Steps, options.AlphaEval, options.Schedule, options.FixedPlan));
        var full = new SamplingEngine(model, options with { UseKvCache = false },
            new EsoLmMethod(options.EffectiveMaskPolicy, false, options.Steps, options.AlphaEval, options.Schedule, options.FixedPlan)) { Leader = cached };
        var requests = new SamplingRequest[batch];
        for (int i = 0; i < batch; i++)
        {
            requests[i] = new SamplingRequest { Seed = seed, SequenceId = i };
        }

        cached.Start(requests, record: false);
        full.Start(requests, record: false);
        double worst = 0;
        long values = 0;
        int steps = 0;
        while (cached.Step(cancellationToken))
        {
            full.Step(cancellationToken);
            for (int i = 0; i < batch; i++)
            {
                var a = cached.RowLogits(cached[i]);
                var b = full.RowLogits(full[i]);
                if (a.Length != b.Length)
                {
                    throw new InvalidOperationException($"Step {steps}, row {i}: the cached and full passes produced different row counts.");
                }

                for (int j = 0; j < a.Length; j++)
                {
                    double diff = Math.Abs(a[j] - b[j]);
                    if (!(diff <= worst))
                    {
                        worst = double.IsNaN(diff) ? double.PositiveInfinity : diff;
                    }
                }

                values += a.Length;
            }

            steps++;
        }

        return new CacheCheckResult(worst, steps, values, tolerance);
    }
}
