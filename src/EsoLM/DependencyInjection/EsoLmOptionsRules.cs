using EsoLM.Caching;
using EsoLM.Hosting;
using EsoLM.Masks;
using EsoLM.Schedules;
using EsoLM.Text;
using Microsoft.Extensions.Options;
using Microsoft.ML.Tokenizers;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Cross-field and registry rules of <see cref="EsoLmOptions"/>: every violation is reported at once.</summary>
internal sealed class EsoLmOptionsRules(IServiceProvider services, IEnumerable<EsoLmStrategyKey> keys) : IValidateOptions<EsoLmOptions>
{
    private readonly ServiceProviderStrategies _strategies = new(services, keys);

    public ValidateOptionsResult Validate(string? name, EsoLmOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        CheckKey<ISamplerFactory>(nameof(options.Sampler), options.Sampler, errors);
        CheckKey<INoiseSchedule>(nameof(options.Schedule), options.Schedule, errors);
        CheckKey<IAttentionMaskPolicy>(nameof(options.MaskPolicy), options.MaskPolicy, errors);
        CheckKey<IKvCacheFactory>(nameof(options.KvCache), options.KvCache, errors);
        if (options.Tokenizer is not null)
        {
            CheckKey<Tokenizer>(nameof(options.Tokenizer), options.Tokenizer, errors);
        }

        bool inCode = services.GetService<EsoLmInCodeModel>() is not null;
        if (!inCode && string.IsNullOrWhiteSpace(options.ModelPath))
        {
            errors.Add("ModelPath: a model file is required (set EsoLm:ModelPath) unless a model is supplied in code with builder.UseModel(…).");
        }
        else if (!inCode && !File.Exists(options.ModelPath))
        {
            errors.Add($"ModelPath: the model file '{options.ModelPath}' does not exist.");
        }

        if (options.Sampler is "mdlm" or "bd3" or "ar" && options.AlphaEval != 1.0)
        {
            errors.Add($"AlphaEval: {options.AlphaEval} is only used by the 'esolm' sampler; sampler '{options.Sampler}' ignores it (leave it at 1).");
        }

        if (options.Sampler == "ar" && options.Steps is not null)
        {
            errors.Add($"Steps: {options.Steps} has no meaning for the 'ar' sampler (one token per step); leave it unset.");
        }

        if (options.Greedy && (options.TopK != 0 || options.TopP != 1.0 || options.Temperature != 1.0))
        {
            errors.Add("Greedy: greedy decoding ignores Temperature, TopK and TopP; leave them at their defaults (1, 0, 1) or turn Greedy off.");
        }

        if (options.Sampler is "esolm" or "ar" && services.GetKeyedService<IAttentionMaskPolicy>(options.MaskPolicy) is { Variant: null } policy)
        {
            errors.Add($"MaskPolicy: the built-in '{options.Sampler}' sampler cannot apply the custom mask policy '{policy.Name}'; register a sampler that uses it.");
        }

        var prefix = string.IsNullOrEmpty(name) ? string.Empty : $"[preset '{name}'] ";
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Select(e => prefix + e));
    }

    private void CheckKey<T>(string setting, string? key, List<string> errors)
        where T : class
    {
        if (string.IsNullOrEmpty(key))
        {
            return; // the generated validator reports the missing value
        }

        var known = _strategies.GetKeys<T>();
        if (!known.Contains(key, StringComparer.Ordinal))
        {
            errors.Add($"{setting}: no {BuiltInStrategies.KindName(typeof(T))} is registered under '{key}'. Registered keys: {string.Join(", ", known.Select(k => $"'{k}'"))}.");
        }
    }
}

/// <summary>Binds <c>EsoLm</c> (all names) and then <c>EsoLm:Presets:{name}</c> (named presets) when an IConfiguration is registered.</summary>
internal sealed class EsoLmConfigurationBinder(IServiceProvider services) : IConfigureNamedOptions<EsoLmOptions>
{
    public void Configure(EsoLmOptions options) => Configure(Microsoft.Extensions.Options.Options.DefaultName, options);

    public void Configure(string? name, EsoLmOptions options)
    {
        if (services.GetService<Microsoft.Extensions.Configuration.IConfiguration>() is not { } configuration)
        {
            return;
        }

        var section = configuration.GetSection(EsoLmOptions.SectionName);
        Microsoft.Extensions.Configuration.ConfigurationBinder.Bind(section, options);
        if (!string.IsNullOrEmpty(name))
        {
            Microsoft.Extensions.Configuration.ConfigurationBinder.Bind(section.GetSection("Presets").GetSection(name), options);
        }
    }
}
