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

/// <summary>Adds or replaces EsoLM strategies by key, supplies a model, defines presets.</summary>
public static class EsoLmBuilderExtensions
{
    /// <summary>Registers (or replaces) the sampler factory under <paramref name="key"/>; select it with <c>EsoLmOptions.Sampler</c>.</summary>
    /// <typeparam name="T">The factory type (constructed by DI, singleton).</typeparam>
    /// <param name="builder">The builder.</param>
    /// <param name="key">The key.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder AddSampler<T>(this IEsoLmBuilder builder, string key)
        where T : class, ISamplerFactory => Add<ISamplerFactory, T>(builder, key);

    /// <summary>Registers (or replaces) a sampler factory instance under <paramref name="key"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="key">The key.</param>
    /// <param name="factory">The factory.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder AddSampler(this IEsoLmBuilder builder, string key, ISamplerFactory factory) => AddInstance(builder, key, factory);

    /// <summary>
    /// Registers (or replaces) a decoding strategy as the sampler <paramref name="key"/>: a sampler factory
    /// whose samplers run <paramref name="createStrategy"/>'s strategy on the shared engine. Select it with <c>EsoLmOptions.Sampler</c>.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="key">The key (also the samplers' name).</param>
    /// <param name="createStrategy">Creates one strategy per sampler from the resolved settings (thread-safe).</param>
    /// <param name="capabilities">What the strategy uses and needs (validation asks it); null = <see cref="SamplerCapabilities.Default"/>.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder AddStrategy(this IEsoLmBuilder builder, string key, Func<GenerationSettings, EsoLM.Sampling.DecodingStrategy> createStrategy,
        SamplerCapabilities? capabilities = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        return AddInstance<ISamplerFactory>(builder, key, new StrategySamplerFactory(key, createStrategy, capabilities));
    }

    /// <summary>Registers (or replaces) the noise schedule under <paramref name="key"/>; select it with <c>EsoLmOptions.Schedule</c>.</summary>
    /// <typeparam name="T">The schedule type (constructed by DI, singleton).</typeparam>
    /// <param name="builder">The builder.</param>
    /// <param name="key">The key.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder AddNoiseSchedule<T>(this IEsoLmBuilder builder, string key)
        where T : class, INoiseSchedule => Add<INoiseSchedule, T>(builder, key);

    /// <summary>Registers (or replaces) a noise schedule instance under <paramref name="key"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="key">The key.</param>
    /// <param name="schedule">The schedule.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder AddNoiseSchedule(this IEsoLmBuilder builder, string key, INoiseSchedule schedule) => AddInstance(builder, key, schedule);

    /// <summary>Registers (or replaces) the attention-mask policy under <paramref name="key"/>; select it with <c>EsoLmOptions.MaskPolicy</c>.</summary>
    /// <typeparam name="T">The policy type (constructed by DI, singleton).</typeparam>
    /// <param name="builder">The builder.</param>
    /// <param name="key">The key.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder AddMaskPolicy<T>(this IEsoLmBuilder builder, string key)
        where T : class, IAttentionMaskPolicy => Add<IAttentionMaskPolicy, T>(builder, key);

    /// <summary>Registers (or replaces) an attention-mask policy instance under <paramref name="key"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="key">The key (a model trained with the policy records its <see cref="IAttentionMaskPolicy.Name"/>: use the same string).</param>
    /// <param name="policy">The policy.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder AddMaskPolicy(this IEsoLmBuilder builder, string key, IAttentionMaskPolicy policy) => AddInstance(builder, key, policy);

    /// <summary>Registers (or replaces) the KV cache factory under <paramref name="key"/>; select it with <c>EsoLmOptions.KvCache</c>.</summary>
    /// <typeparam name="T">The factory type (constructed by DI, singleton).</typeparam>
    /// <param name="builder">The builder.</param>
    /// <param name="key">The key.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder AddKvCache<T>(this IEsoLmBuilder builder, string key)
        where T : class, IKvCacheFactory => Add<IKvCacheFactory, T>(builder, key);

    /// <summary>Registers (or replaces) the compute backend under <paramref name="key"/>; select it with <c>EsoLmOptions.Backend</c>.</summary>
    /// <typeparam name="T">The backend type (constructed by DI, singleton).</typeparam>
    /// <param name="builder">The builder.</param>
    /// <param name="key">The key.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder AddBackend<T>(this IEsoLmBuilder builder, string key)
        where T : class, IComputeBackend => Add<IComputeBackend, T>(builder, key);

    /// <summary>Registers (or replaces) a compute backend instance under <paramref name="key"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="key">The key.</param>
    /// <param name="backend">The backend.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder AddBackend(this IEsoLmBuilder builder, string key, IComputeBackend backend) => AddInstance(builder, key, backend);

    /// <summary>Registers (or replaces) a KV cache factory instance under <paramref name="key"/>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="key">The key.</param>
    /// <param name="factory">The factory.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder AddKvCache(this IEsoLmBuilder builder, string key, IKvCacheFactory factory) => AddInstance(builder, key, factory);

    /// <summary>Registers (or replaces) a tokenizer under <paramref name="key"/>; select it with <c>EsoLmOptions.Tokenizer</c>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="key">The key.</param>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder AddTokenizer(this IEsoLmBuilder builder, string key, Tokenizer tokenizer) => AddInstance(builder, key, tokenizer);

    /// <summary>Registers (or replaces) a tokenizer type under <paramref name="key"/>.</summary>
    /// <typeparam name="T">The tokenizer type (constructed by DI, singleton).</typeparam>
    /// <param name="builder">The builder.</param>
    /// <param name="key">The key.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder AddTokenizer<T>(this IEsoLmBuilder builder, string key)
        where T : Tokenizer => Add<Tokenizer, T>(builder, key);

    /// <summary>Uses a model built in code instead of loading <c>EsoLmOptions.ModelPath</c>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="model">The model.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder UseModel(this IEsoLmBuilder builder, EsoLmModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return UseModel(builder, _ => model);
    }

    /// <summary>Uses a model created by <paramref name="factory"/> (once, singleton) instead of loading <c>EsoLmOptions.ModelPath</c>.</summary>
    /// <param name="builder">The builder.</param>
    /// <param name="factory">Creates the model.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder UseModel(this IEsoLmBuilder builder, Func<IServiceProvider, EsoLmModel> factory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        builder.Services.Replace(ServiceDescriptor.Singleton(factory));
        builder.Services.TryAddSingleton<EsoLmInCodeModel>();
        return builder;
    }

    /// <summary>
    /// Defines a preset: named <see cref="EsoLmOptions"/> (defaults, then the <c>EsoLm</c> section, then
    /// <c>EsoLm:Presets:{name}</c>, then <paramref name="configure"/>) validated on start, and a keyed
    /// <see cref="EsoLmGenerator"/> under <paramref name="name"/> that shares the model.
    /// </summary>
    /// <param name="builder">The builder.</param>
    /// <param name="name">The preset name.</param>
    /// <param name="configure">Sets the preset's options.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder AddPreset(this IEsoLmBuilder builder, string name, Action<EsoLmOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<EsoLmOptions>(name).Configure(configure).ValidateOnStart();
        builder.Services.TryAddKeyedSingleton(name, (sp, _) => new EsoLmGenerator(
            sp.GetRequiredService<EsoLmModel>(),
            sp.GetRequiredService<IOptionsMonitor<EsoLmOptions>>().Get(name),
            sp.GetRequiredService<IEsoLmStrategyProvider>()));
        return builder;
    }

    private static IEsoLmBuilder Add<TService, TImpl>(IEsoLmBuilder builder, string key)
        where TService : class
        where TImpl : class, TService
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(key);
        builder.Services.RemoveAllKeyed<TService>(key);
        builder.Services.AddKeyedSingleton<TService, TImpl>(key);
        EsoLmServiceCollectionExtensions.AddKey(builder.Services, typeof(TService), key);
        return builder;
    }

    private static IEsoLmBuilder AddInstance<TService>(IEsoLmBuilder builder, string key, TService instance)
        where TService : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(instance);
        builder.Services.RemoveAllKeyed<TService>(key);
        builder.Services.AddKeyedSingleton(key, instance);
        EsoLmServiceCollectionExtensions.AddKey(builder.Services, typeof(TService), key);
        return builder;
    }
}
