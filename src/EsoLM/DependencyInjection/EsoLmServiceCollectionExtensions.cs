using EsoLM.Backends;
using EsoLM.Backends.Cpu;
using EsoLM.Caching;
using EsoLM.Hosting;
using EsoLM.Masks;
using EsoLM.Schedules;
using EsoLM.Tensors;
using EsoLM.Text;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.ML.Tokenizers;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers EsoLM in an <see cref="IServiceCollection"/>.</summary>
public static class EsoLmServiceCollectionExtensions
{
    /// <summary>
    /// Registers EsoLM: <see cref="EsoLmOptions"/> (bound from the configuration section <c>EsoLm</c> when an
    /// <c>IConfiguration</c> is registered, validated by a source-generated validator plus cross-field rules, validated on
    /// start), the built-in strategies as keyed singletons (samplers <c>esolm</c>, <c>mdlm</c>, <c>bd3</c>, <c>ar</c>;
    /// schedules <c>log-linear</c>, <c>cosine</c>; mask policies <c>esolm-a</c>, <c>esolm-b</c>, <c>mdlm</c>; KV cache <c>dense</c>;
    /// tokenizers <c>byte</c>, <c>builtin</c>; compute backend <c>cpu</c>), the <see cref="EsoLmModel"/> (loaded from
    /// <see cref="EsoLmOptions.ModelPath"/> onto the backend <see cref="EsoLmOptions.Backend"/>
    /// unless <c>UseModel</c> supplies one) and the <see cref="EsoLmGenerator"/>. Every registration is a TryAdd: calling it
    /// twice registers once.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets options in code (configuration binding is applied after it).</param>
    /// <returns>A builder to add strategies, a model or presets.</returns>
    public static IEsoLmBuilder AddEsoLm(this IServiceCollection services, Action<EsoLmOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var builder = new EsoLmBuilder(services);
        if (configure is not null)
        {
            services.Configure(configure);
        }

        if (services.Any(d => d.ServiceType == typeof(EsoLmMarker)))
        {
            return builder;
        }

        services.AddSingleton<EsoLmMarker>();
        services.AddOptions<EsoLmOptions>().ValidateOnStart();
        services.AddSingleton<IConfigureOptions<EsoLmOptions>>(sp => new EsoLmConfigurationBinder(sp));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EsoLmOptions>, EsoLmOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EsoLmOptions>, EsoLmOptionsRules>(
            sp => new EsoLmOptionsRules(sp, sp.GetServices<EsoLmStrategyKey>())));

        foreach (var (type, key, create) in BuiltInStrategies.Instance.Entries)
        {
            services.TryAddKeyedSingleton(type, key, (_, _) => create());
            AddKey(services, type, key);
        }

        services.TryAddSingleton<IEsoLmStrategyProvider>(sp => new ServiceProviderStrategies(sp, sp.GetServices<EsoLmStrategyKey>()));
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<EsoLmOptions>>().Value;
            var path = options.ModelPath ?? throw new InvalidOperationException("EsoLmOptions.ModelPath is not set and no model was supplied with UseModel.");
            var strategies = sp.GetRequiredService<IEsoLmStrategyProvider>();
            var backend = strategies.GetStrategy<IComputeBackend>(options.Backend);
            if (backend is CpuBackend cpu && (options.Threads is not null || options.Weights != cpu.Weights))
            {
                backend = new CpuBackend(options.Threads is int t ? new ComputeContext(t) : cpu.Compute, options.Weights);
            }

            var loaded = EsoLmModel.Load(path, backend, strategies);
            return options.Tokenizer is { } key
                ? new EsoLmModel(loaded.Transformer, strategies.GetStrategy<Tokenizer>(key), loaded.Metadata, loaded.Training)
                : loaded;
        });
        services.TryAddSingleton(sp => new EsoLmGenerator(
            sp.GetRequiredService<EsoLmModel>(),
            sp.GetRequiredService<IOptions<EsoLmOptions>>().Value,
            sp.GetRequiredService<IEsoLmStrategyProvider>()));
        return builder;
    }

    internal static void AddKey(IServiceCollection services, Type type, string key)
    {
        var entry = new EsoLmStrategyKey(type, key);
        if (!services.Any(d => d.ServiceType == typeof(EsoLmStrategyKey) && Equals(d.ImplementationInstance, entry)))
        {
            services.AddSingleton(entry);
        }
    }

    internal sealed class EsoLmMarker;
}
