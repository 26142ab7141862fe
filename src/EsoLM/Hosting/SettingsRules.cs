using EsoLM.Masks;

namespace EsoLM.Hosting;

/// <summary>
/// The one place where generation settings are checked against the sampler that will run them (its
/// <see cref="SamplerCapabilities"/>) — used by the start-up options validation and by every request the generator resolves.
/// </summary>
internal static class SettingsRules
{
    /// <summary>Adds one message per violated rule (each names the setting, its value and why).</summary>
    public static void Check(string samplerKey, ISamplerFactory factory, int? explicitSteps, double? explicitAlphaEval, string? policyKey,
        IAttentionMaskPolicy? policy, List<string> errors)
    {
        var caps = factory.Capabilities ?? SamplerCapabilities.Default;
        if (!caps.UsesAlphaEval && explicitAlphaEval is double alpha && alpha != 1.0)
        {
            errors.Add($"AlphaEval: {alpha} is not used by the sampler '{samplerKey}' (its capabilities say it ignores AlphaEval); leave it unset or at 1.");
        }

        if (!caps.UsesSteps && explicitSteps is int steps)
        {
            errors.Add($"Steps: {steps} has no meaning for the sampler '{samplerKey}' (its capabilities say it does not use Steps); leave it unset.");
        }

        if (caps.RequiresSequentialMode && caps.OwnMasks is null && policy is { Variant: EsoLmVariant.Mdlm })
        {
            errors.Add($"MaskPolicy: '{policyKey ?? policy.Name}' is bidirectional (the MDLM baseline's masks) and has no sequential mode, which the sampler '{samplerKey}' needs; " +
                "use the 'mdlm' sampler for it, or a causal policy such as 'esolm-b'.");
        }
    }

    /// <summary>The masks a sampler would sample with: its own, or the selected policy's.</summary>
    public static string MasksOf(ISamplerFactory factory, IAttentionMaskPolicy policy) => (factory.Capabilities ?? SamplerCapabilities.Default).OwnMasks ?? policy.Name;
}
