namespace EsoLM.Sampling;

/// <summary>
/// How many tokens each forward pass decodes (spec §4.1): the first steps, summing to <see cref="DiffusionTokens"/>,
/// are the diffusion phase; the rest are the sequential phase (one token per step, left to right). Immutable.
/// </summary>
internal sealed class StepPlan
{
    private readonly int[] _steps;

    /// <summary>Creates a plan from explicit step sizes (for instance to replay a reference trace).</summary>
    /// <param name="steps">Tokens decoded per step; every entry ≥ 1.</param>
    /// <param name="diffusionTokens">How many tokens the diffusion phase decodes; must be a prefix sum of <paramref name="steps"/>.</param>
    public StepPlan(IReadOnlyList<int> steps, int diffusionTokens)
    {
        ArgumentNullException.ThrowIfNull(steps);
        ArgumentOutOfRangeException.ThrowIfNegative(diffusionTokens);
        _steps = new int[steps.Count];
        int sum = 0, diffusionSteps = -1;
        for (int i = 0; i < _steps.Length; i++)
        {
            if (sum == diffusionTokens && diffusionSteps < 0)
            {
                diffusionSteps = i;
            }

            int k = steps[i];
            if (k < 1)
            {
                throw new ArgumentOutOfRangeException(nameof(steps), k, $"Step {i} decodes {k} tokens; every step must decode at least 1.");
            }

            _steps[i] = k;
            sum = checked(sum + k);
        }

        if (sum == diffusionTokens && diffusionSteps < 0)
        {
            diffusionSteps = _steps.Length;
        }

        if (diffusionSteps < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(diffusionTokens), diffusionTokens,
                $"The diffusion token count must be a prefix sum of the steps (total {sum}).");
        }

        TotalTokens = sum;
        DiffusionTokens = diffusionTokens;
        DiffusionSteps = diffusionSteps;
    }

    /// <summary>Tokens decoded per step.</summary>
    public IReadOnlyList<int> Steps => _steps;

    /// <summary>Steps as a span (no allocation).</summary>
    public ReadOnlySpan<int> StepSpan => _steps;

    /// <summary>Number of steps (forward passes of the cached Eso-LM sampler, NFE).</summary>
    public int StepCount => _steps.Length;

    /// <summary>Σ steps: the number of tokens generated.</summary>
    public int TotalTokens { get; }

    /// <summary>D: tokens decoded by the diffusion phase.</summary>
    public int DiffusionTokens { get; }

    /// <summary>Number of diffusion-phase steps (the first steps of <see cref="Steps"/>).</summary>
    public int DiffusionSteps { get; }

    /// <summary>Number of sequential-phase steps (L − D).</summary>
    public int SequentialSteps => _steps.Length - DiffusionSteps;

    /// <inheritdoc />
    public override string ToString() => $"StepPlan(D={DiffusionTokens}, steps=[{string.Join(",", _steps)}])";
}
