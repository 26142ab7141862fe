using EsoLM.Backends;
using EsoLM.Caching;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Sampling;
using EsoLM.Schedules;

namespace EsoLM.Hosting;

/// <summary>
/// Creates a sampler for a model and settings: the DI-friendly definition of a generation strategy (the sampler classes
/// themselves take a model and options). Register yours with <c>builder.AddSampler&lt;T&gt;("name")</c> and select it with
/// <c>EsoLmOptions.Sampler = "name"</c>. Factories must be thread-safe; the samplers they return run one call at a time
/// and are pooled by the generator.
/// </summary>
public interface ISamplerFactory
{
    /// <summary>Creates a sampler.</summary>
    /// <param name="model">The shared, read-only network.</param>
    /// <param name="settings">The settings.</param>
    /// <returns>A new sampler, used by one call at a time.</returns>
    ISampler Create(INetwork model, GenerationSettings settings);

    /// <summary>What the sampler uses and needs; settings are validated against it (default: <see cref="SamplerCapabilities.Default"/>).</summary>
    SamplerCapabilities Capabilities => SamplerCapabilities.Default;
}
