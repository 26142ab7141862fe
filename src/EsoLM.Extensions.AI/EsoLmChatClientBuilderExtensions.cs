using EsoLM.Extensions.AI;
using EsoLM.Hosting;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers <see cref="EsoLmChatClient"/> from the EsoLM DI builder.</summary>
public static class EsoLmChatClientBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="EsoLmChatClient"/> and <see cref="IChatClient"/> (singletons, TryAdd) over the registered
    /// <see cref="EsoLmGenerator"/>. With the full Microsoft.Extensions.AI package, wrap it with
    /// <c>AddChatClient(sp =&gt; sp.GetRequiredService&lt;EsoLmChatClient&gt;()).UseLogging()</c>.
    /// </summary>
    /// <param name="builder">The EsoLM builder.</param>
    /// <param name="configure">Client settings.</param>
    /// <returns>The builder.</returns>
    public static IEsoLmBuilder AddChatClient(this IEsoLmBuilder builder, Action<EsoLmChatClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new EsoLmChatClientOptions();
        configure?.Invoke(options);
        builder.Services.TryAddSingleton(sp => new EsoLmChatClient(sp.GetRequiredService<EsoLmGenerator>(), options));
        builder.Services.TryAddSingleton<IChatClient>(sp => sp.GetRequiredService<EsoLmChatClient>());
        return builder;
    }
}
