using EsoLM.Hosting;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Schedules;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EsoLM.Tests.DependencyInjection;

public sealed class AddEsoLmTests
{
    private static readonly ServiceProviderOptions Strict = new() { ValidateScopes = true, ValidateOnBuild = true };

    private static ServiceProvider Build(Action<IEsoLmBuilder>? more = null, Action<EsoLmOptions>? configure = null, IConfiguration? configuration = null)
    {
        var services = new ServiceCollection();
        if (configuration is not null)
        {
            services.AddSingleton(configuration);
        }

        var builder = services.AddEsoLm(configure).UseModel(TinyModels.Model());
        more?.Invoke(builder);
        var provider = services.BuildServiceProvider(Strict);
        provider.GetRequiredService<IStartupValidator>().Validate();
        return provider;
    }

    [Fact]
    public void Built_in_strategies_are_keyed_and_registered_once()
    {
        var services = new ServiceCollection();
        services.AddEsoLm();
        int count = services.Count;
        services.AddEsoLm();
        Assert.Equal(count, services.Count);

        using var provider = Build();
        foreach (var key in new[] { "esolm", "mdlm", "bd3", "ar" })
        {
            Assert.NotNull(provider.GetRequiredKeyedService<ISamplerFactory>(key));
        }

        Assert.Equal("log-linear", provider.GetRequiredKeyedService<INoiseSchedule>("log-linear").Name);
        Assert.Equal("cosine", provider.GetRequiredKeyedService<INoiseSchedule>("cosine").Name);
        Assert.Equal(EsoLmVariant.A, provider.GetRequiredKeyedService<IAttentionMaskPolicy>("esolm-a").Variant);
        Assert.NotNull(provider.GetRequiredKeyedService<EsoLM.Caching.IKvCacheFactory>("dense"));
        Assert.Equal(257, EsoLM.Text.TokenizerVocabulary.Of(provider.GetRequiredKeyedService<Microsoft.ML.Tokenizers.Tokenizer>("byte")).Size);
        Assert.Equal(["ar", "bd3", "esolm", "mdlm"], provider.GetRequiredService<IEsoLmStrategyProvider>().GetKeys<ISamplerFactory>());
    }

    [Fact]
    public void Options_bind_from_the_EsoLm_section_and_presets_are_named_options()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["EsoLm:Sampler"] = "mdlm",
            ["EsoLm:Steps"] = "12",
            ["EsoLm:Temperature"] = "0.7",
            ["EsoLm:TopK"] = "5",
            ["EsoLm:Presets:fast:Steps"] = "3",
        }).Build();
        using var provider = Build(b => b.AddPreset("fast", o => o.Sampler = "esolm"), configuration: configuration);
        var options = provider.GetRequiredService<IOptions<EsoLmOptions>>().Value;
        Assert.Equal(("mdlm", 12, 0.7, 5), (options.Sampler, options.Steps, options.Temperature, options.TopK));
        var fast = provider.GetRequiredService<IOptionsMonitor<EsoLmOptions>>().Get("fast");
        Assert.Equal(("esolm", 3, 0.7), (fast.Sampler, fast.Steps, fast.Temperature));
        Assert.Equal(3, provider.GetRequiredKeyedService<EsoLmGenerator>("fast").Options.Steps);
        Assert.Equal(12, provider.GetRequiredService<EsoLmGenerator>().Options.Steps);
    }

    [Fact]
    public void Invalid_options_fail_at_start_naming_every_violation_and_the_registered_keys()
    {
        var services = new ServiceCollection();
        services.AddEsoLm(o =>
        {
            o.Steps = 0;
            o.TopP = 2;
            o.Sampler = "nucleus";
            o.Schedule = "square";
        });
        using var provider = services.BuildServiceProvider(Strict);
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        var message = string.Join("\n", ex.Failures);
        Assert.Contains("Steps", message, StringComparison.Ordinal);
        Assert.Contains("TopP", message, StringComparison.Ordinal);
        Assert.Contains("'nucleus'", message, StringComparison.Ordinal);
        Assert.Contains("'ar', 'bd3', 'esolm', 'mdlm'", message, StringComparison.Ordinal);
        Assert.Contains("'cosine', 'log-linear'", message, StringComparison.Ordinal);
        Assert.Contains("ModelPath", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cross_field_rules_are_checked()
    {
        var services = new ServiceCollection();
        services.AddEsoLm(o =>
        {
            o.Sampler = "mdlm";
            o.AlphaEval = 0.5;
            o.Greedy = true;
            o.TopK = 3;
        }).UseModel(TinyModels.Model());
        using var provider = services.BuildServiceProvider(Strict);
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
        Assert.Contains(ex.Failures, f => f.StartsWith("AlphaEval", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.StartsWith("Greedy", StringComparison.Ordinal));
    }

    [Fact]
    public void Unknown_key_in_a_request_names_the_registered_keys()
    {
        using var provider = Build();
        var generator = provider.GetRequiredService<EsoLmGenerator>();
        var ex = Assert.Throws<KeyNotFoundException>(() => generator.Generate(new GenerationRequest("the") { Sampler = "beam", Seed = 1 }));
        Assert.Contains("'beam'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'ar', 'bd3', 'esolm', 'mdlm'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_user_schedule_and_sampler_registered_by_key_are_the_ones_generation_uses()
    {
        using var provider = Build(
            b => b.AddNoiseSchedule<RecordingSchedule>("recording").AddSampler<RecordingSamplerFactory>("recording"),
            o =>
            {
                o.Sampler = "recording";
                o.Schedule = "recording";
                o.Steps = 4;
                o.MaxNewTokens = 8;
            });
        var schedule = (RecordingSchedule)provider.GetRequiredKeyedService<INoiseSchedule>("recording");
        var factory = (RecordingSamplerFactory)provider.GetRequiredKeyedService<ISamplerFactory>("recording");

        var result = provider.GetRequiredService<EsoLmGenerator>().Generate(new GenerationRequest("the") { Seed = 3 });

        Assert.Equal("recording", result.Sampler);
        Assert.Equal(1, factory.Created);
        Assert.Equal(1, factory.Calls);
        Assert.Same(schedule, factory.LastSettings!.Schedule);
        Assert.True(schedule.Calls > 0, "the planner must evaluate the user's schedule");
        Assert.True(result.TokenIds.Count is > 0 and <= 8);
    }

    [Fact]
    public void A_user_kv_cache_factory_selected_by_key_creates_the_caches_generation_uses()
    {
        using var provider = Build(b => b.AddKvCache<CountingCacheFactory>("counting"), o =>
        {
            o.KvCache = "counting";
            o.MaxNewTokens = 6;
        });
        var factory = (CountingCacheFactory)provider.GetRequiredKeyedService<EsoLM.Caching.IKvCacheFactory>("counting");
        provider.GetRequiredService<EsoLmGenerator>().Generate(new GenerationRequest("the") { Seed = 2 });
        Assert.True(factory.Created > 0, "the built-in sampler must take its caches from the selected factory");
    }

    [Theory]
    [InlineData("esolm", "esolm-b")]
    [InlineData("esolm", "esolm-a")]
    [InlineData("mdlm", "esolm-b")]
    [InlineData("bd3", "esolm-b")]
    [InlineData("ar", "esolm-b")]
    public void Every_sampler_takes_its_caches_from_the_user_factory_which_counts_their_bytes(string sampler, string policy)
    {
        var counting = new ByteCountingCacheFactory();
        using var provider = Build(b => b.AddKvCache("bytes", counting), o =>
        {
            o.KvCache = "bytes";
            o.Sampler = sampler;
            o.MaskPolicy = policy;
            o.MaxNewTokens = 6;
            o.Steps = sampler == "ar" ? null : 3;
        });
        var result = provider.GetRequiredService<EsoLmGenerator>().Generate(new GenerationRequest("the") { Seed = 2 });
        Assert.Equal(sampler, result.Sampler);
        Assert.True(counting.Created > 0, $"sampler '{sampler}' must take its caches from the selected factory");

        // K and V for every layer, slot and hidden unit, float32: the arithmetic, not the backend's own report.
        var config = TinyModels.Config();
        Assert.Equal(2L * config.Layers * config.HiddenSize * sizeof(float) * counting.Slots, counting.Bytes);
    }

    private sealed class ByteCountingCacheFactory : EsoLM.Caching.IKvCacheFactory
    {
        public int Created { get; private set; }

        public long Slots { get; private set; }

        public long Bytes { get; private set; }

        public string Name => "bytes";

        public EsoLM.Backends.IKvCache Create(EsoLM.Backends.INetwork network, int capacity)
        {
            var cache = network.CreateCache(capacity);
            lock (this)
            {
                Created++;
                Slots += capacity;
                Bytes += cache.SizeInBytes;
            }

            return cache;
        }
    }

    private sealed class CountingCacheFactory : EsoLM.Caching.IKvCacheFactory
    {
        public int Created { get; private set; }

        public string Name => "counting";

        public EsoLM.Backends.IKvCache Create(EsoLM.Backends.INetwork network, int capacity)
        {
            Created++;
            return network.CreateCache(capacity);
        }
    }

    [Fact]
    public void A_user_sampler_can_replace_a_built_in_key()
    {
        using var provider = Build(b => b.AddSampler<RecordingSamplerFactory>("esolm"), o => o.MaxNewTokens = 4);
        provider.GetRequiredService<EsoLmGenerator>().Generate(new GenerationRequest(string.Empty) { Seed = 1 });
        Assert.Equal(1, ((RecordingSamplerFactory)provider.GetRequiredKeyedService<ISamplerFactory>("esolm")).Calls);
    }

    [Fact]
    public void A_model_file_path_is_loaded_with_the_thread_setting()
    {
        var path = Path.Combine(Path.GetTempPath(), $"esolm-di-{Guid.NewGuid():N}.safetensors");
        TinyModels.Model().Save(path);
        try
        {
            var services = new ServiceCollection();
            services.AddEsoLm(o =>
            {
                o.ModelPath = path;
                o.Threads = 1;
                o.MaxNewTokens = 4;
            });
            using var provider = services.BuildServiceProvider(Strict);
            provider.GetRequiredService<IStartupValidator>().Validate();
            var generator = provider.GetRequiredService<EsoLmGenerator>();
            Assert.Equal(1, generator.Model.Transformer.HostThreads);
            var a = generator.Generate(new GenerationRequest("a") { Seed = 9 });
            var b = new EsoLmGenerator(TinyModels.Model(), new EsoLmOptions { MaxNewTokens = 4 }).Generate(new GenerationRequest("a") { Seed = 9 });
            Assert.Equal(b.TokenIds, a.TokenIds);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(EsoLM.Tensors.WeightFormat.BFloat16, "bfloat16")]
    [InlineData(EsoLM.Tensors.WeightFormat.Int8, "int8")]
    [InlineData(EsoLM.Tensors.WeightFormat.Int8A16, "int8a16")]
    public void The_weights_option_packs_the_loaded_model_in_that_format(EsoLM.Tensors.WeightFormat weights, string dataType)
    {
        var path = Path.Combine(Path.GetTempPath(), $"esolm-di-{Guid.NewGuid():N}.safetensors");
        TinyModels.Model().Save(path);
        try
        {
            var services = new ServiceCollection();
            services.AddEsoLm(o =>
            {
                o.ModelPath = path;
                o.Weights = weights;
                o.MaxNewTokens = 4;
            });
            using var provider = services.BuildServiceProvider(Strict);
            provider.GetRequiredService<IStartupValidator>().Validate();
            var generator = provider.GetRequiredService<EsoLmGenerator>();
            Assert.Equal(dataType, generator.Model.Transformer.Backend.Description.DataType);
            Assert.NotEmpty(generator.Generate(new GenerationRequest("a") { Seed = 9 }).TokenIds);
        }
        finally
        {
            File.Delete(path);
        }
    }
}

/// <summary>A schedule that counts its evaluations (the paper's log-linear shape).</summary>
public sealed class RecordingSchedule : INoiseSchedule
{
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public string Name => "recording";

    public double Shape(double t)
    {
        Interlocked.Increment(ref _calls);
        return LogLinearSchedule.Default.Shape(t);
    }

    public double ShapeDerivative(double t) => LogLinearSchedule.Default.ShapeDerivative(t);
}

#region recording-sampler
/// <summary>A sampler factory that records what generation asks of it and wraps the Eso-LM sampler.</summary>
public sealed class RecordingSamplerFactory : ISamplerFactory
{
    private int _created;
    private int _calls;

    public int Created => Volatile.Read(ref _created);

    public int Calls => Volatile.Read(ref _calls);

    public GenerationSettings? LastSettings { get; private set; }

    public ISampler Create(EsoLM.Backends.INetwork model, GenerationSettings settings)
    {
        Interlocked.Increment(ref _created);
        LastSettings = settings;
        return new Recording(BuiltInStrategies.Instance.GetStrategy<ISamplerFactory>("esolm").Create(model, settings), this);
    }

    private sealed class Recording(ISampler inner, RecordingSamplerFactory owner) : ISampler
    {
        public string Name => "recording";

        public EsoLM.Backends.INetwork Model => inner.Model;

        public SamplingResult Generate(IReadOnlyList<SamplingRequest> requests, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref owner._calls);
            return inner.Generate(requests, cancellationToken);
        }

        public IAsyncEnumerable<SamplingUpdate> GenerateStreamingAsync(IReadOnlyList<SamplingRequest> requests, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref owner._calls);
            return inner.GenerateStreamingAsync(requests, cancellationToken);
        }
    }
}
#endregion
