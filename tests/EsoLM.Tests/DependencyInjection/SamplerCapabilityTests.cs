using EsoLM.Hosting;
using EsoLM.Masks;
using EsoLM.Sampling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EsoLM.Tests.DependencyInjection;

/// <summary>Settings are validated against what the selected sampler says it uses and needs, not against its key.</summary>
public sealed class SamplerCapabilityTests
{
    private static OptionsValidationException? StartupError(Action<EsoLmOptions> configure, Action<IEsoLmBuilder>? more = null)
    {
        var services = new ServiceCollection();
        var builder = services.AddEsoLm(configure).UseModel(TinyModels.Model());
        more?.Invoke(builder);
        using var provider = services.BuildServiceProvider();
        try
        {
            provider.GetRequiredService<IStartupValidator>().Validate();
            return null;
        }
        catch (OptionsValidationException e)
        {
            return e;
        }
    }

    private static DecodingStrategy Strategy(GenerationSettings settings) =>
        new EsoLmMethod(settings.MaskPolicy, true, settings.Steps, settings.AlphaEval, settings.Schedule, null);

    [Fact]
    public void Built_in_rules_follow_the_capabilities_not_the_key()
    {
        // The built-in "ar" does not use Steps or AlphaEval: both are refused, naming the setting and the sampler.
        var refused = StartupError(o => { o.Sampler = "ar"; o.Steps = 4; o.AlphaEval = 0.5; });
        Assert.NotNull(refused);
        Assert.Contains(refused.Failures, f => f.StartsWith("Steps: 4", StringComparison.Ordinal) && f.Contains("'ar'", StringComparison.Ordinal));
        Assert.Contains(refused.Failures, f => f.StartsWith("AlphaEval: 0.5", StringComparison.Ordinal));

        // A user's sampler registered under the same key with default capabilities is not hit by the built-in's rules.
        Assert.Null(StartupError(o => { o.Sampler = "ar"; o.Steps = 4; o.AlphaEval = 0.5; }, b => b.AddStrategy("ar", Strategy)));

        // And one that declares it does not use Steps gets that rule under any key.
        var own = StartupError(o => { o.Sampler = "mine"; o.Steps = 4; },
            b => b.AddStrategy("mine", Strategy, new SamplerCapabilities { UsesSteps = false }));
        Assert.NotNull(own);
        Assert.Contains(own.Failures, f => f.StartsWith("Steps: 4", StringComparison.Ordinal) && f.Contains("'mine'", StringComparison.Ordinal));
    }

    [Fact]
    public void A_sampler_that_needs_a_sequential_mode_refuses_the_bidirectional_policy_at_start_up_and_per_request()
    {
        var refused = StartupError(o => { o.Sampler = "esolm"; o.MaskPolicy = "mdlm"; });
        Assert.NotNull(refused);
        Assert.Contains(refused.Failures, f => f.StartsWith("MaskPolicy:", StringComparison.Ordinal) && f.Contains("'esolm'", StringComparison.Ordinal));

        // The mdlm sampler runs its own masks and accepts it; a request switching to "ar" is checked again.
        Assert.Null(StartupError(o => { o.Sampler = "mdlm"; o.MaskPolicy = "mdlm"; }));
        var generator = new EsoLmGenerator(TinyModels.Model(), new EsoLmOptions { Sampler = "mdlm", MaskPolicy = "mdlm" });
        var e = Assert.Throws<ArgumentException>(() => generator.Generate(new GenerationRequest("ab") { Sampler = "ar", Seed = 1, MaxNewTokens = 4 }));
        Assert.Equal("MaskPolicy", e.ParamName);
    }
}
