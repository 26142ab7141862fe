using EsoLM.Backends;
using EsoLM.Caching;
using EsoLM.Hosting;
using EsoLM.IO;
using EsoLM.Modeling;
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
        CheckKey<IComputeBackend>(nameof(options.Backend), options.Backend, errors);
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
            errors.Add(Directory.Exists(options.ModelPath)
                ? $"ModelPath: '{options.ModelPath}' is a directory, not a model file."
                : $"ModelPath: the model file '{options.ModelPath}' does not exist.");
        }
        else if (!inCode)
        {
            CheckModelFile(options, errors);
        }

        if (!Enum.IsDefined(options.Weights))
        {
            errors.Add($"Weights: {options.Weights} is not a weight format (Float32, BFloat16, Int8 or Int8A16).");
        }

        if (options.Sampler is { Length: > 0 } samplerKey && _strategies.GetKeys<ISamplerFactory>().Contains(samplerKey, StringComparer.Ordinal))
        {
            // Ask the registered sampler what it uses and needs (not its name): a user's sampler under "esolm" gets its own rules.
            var policyKey = options.MaskPolicy;
            var policy = policyKey is not null && _strategies.GetKeys<IAttentionMaskPolicy>().Contains(policyKey, StringComparer.Ordinal)
                ? _strategies.GetStrategy<IAttentionMaskPolicy>(policyKey)
                : null;
            SettingsRules.Check(samplerKey, _strategies.GetStrategy<ISamplerFactory>(samplerKey), options.Steps, options.AlphaEval, policyKey, policy, errors);
        }

        if (options.Greedy && (options.TopK != 0 || options.TopP != 1.0 || options.Temperature != 1.0))
        {
            errors.Add("Greedy: greedy decoding ignores Temperature, TopK and TopP; leave them at their defaults (1, 0, 1) or turn Greedy off.");
        }

        var prefix = string.IsNullOrEmpty(name) ? string.Empty : $"[preset '{name}'] ";
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors.Select(e => prefix + e));
    }

    /// <summary>
    /// Reads the model file's header (config, tensor shapes, tokenizer) without loading weights, so settings that would
    /// fail on first use fail at start-up: a corrupt or inconsistent file, MaxNewTokens beyond the context, a tokenizer
    /// that does not cover the model's ids.
    /// </summary>
    private void CheckModelFile(EsoLmOptions options, List<string> errors)
    {
        ModelConfig config;
        TokenizerDescription? description;
        try
        {
            (config, description, _) = ModelFile.Inspect(options.ModelPath!);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or System.Text.Json.JsonException or UnauthorizedAccessException)
        {
            errors.Add($"ModelPath: '{options.ModelPath}' is not a usable model file: {e.Message.Split('\n')[0]}");
            return;
        }

        if (options.MaxNewTokens is int maxNew && maxNew > config.ContextLength)
        {
            errors.Add($"MaxNewTokens: {maxNew} exceeds the model's context of {config.ContextLength} tokens (prompt included); every default request would fail.");
        }

        try
        {
            Tokenizer? tokenizer = options.Tokenizer is { } key
                ? services.GetKeyedService<Tokenizer>(key)
                : description is null ? null : TokenizerFactory.FromDescription(description);
            if (tokenizer is null && options.Tokenizer is null)
            {
                errors.Add($"Tokenizer: the model file '{options.ModelPath}' has no tokenizer description; register one and set Tokenizer.");
            }
            else if (tokenizer is not null)
            {
                ModelFile.CheckTokenizerCoversModel(TokenizerVocabulary.Of(tokenizer).Size, config);
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or System.Text.Json.JsonException)
        {
            errors.Add($"Tokenizer: {e.Message.Split('\n')[0]}");
        }
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
