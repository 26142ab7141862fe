using EsoLM.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace EsoLM.Cli;

/// <summary>
/// The strategy registry the CLI resolves samplers, schedules and mask policies from: the same keyed services
/// <c>services.AddEsoLm()</c> registers for DI users, so <c>--sampler NAME</c>, <c>--schedule NAME</c> and
/// <c>--mask-policy NAME</c> accept whatever is registered there.
/// </summary>
internal static class CliRegistry
{
    private static readonly Lazy<ServiceProvider> Provider = new(() =>
    {
        var services = new ServiceCollection();
        services.AddEsoLm();
        return services.BuildServiceProvider();
    });

    /// <summary>The registry.</summary>
    public static IEsoLmStrategyProvider Strategies => Provider.Value.GetRequiredService<IEsoLmStrategyProvider>();

    /// <summary>The strategy registered under <paramref name="key"/>, or an error naming the option and the registered keys.</summary>
    public static T Resolve<T>(string option, string key)
        where T : class
    {
        var keys = Strategies.GetKeys<T>();
        if (!keys.Contains(key, StringComparer.Ordinal))
        {
            throw new ArgumentOutOfRangeException(option, key, $"{option} must be one of the registered keys {string.Join(", ", keys)} (got '{key}').");
        }

        return Strategies.GetStrategy<T>(key);
    }

    /// <summary>
    /// The noise schedule a model was trained with (its description's <paramref name="scheduleName"/>) when that name is
    /// registered, else the log-linear default, so sampling plans its steps with the schedule training used.
    /// </summary>
    public static Schedules.INoiseSchedule TrainingScheduleOrDefault(string? scheduleName) =>
        scheduleName is not null && Strategies.GetKeys<Schedules.INoiseSchedule>().Contains(scheduleName, StringComparer.Ordinal)
            ? Strategies.GetStrategy<Schedules.INoiseSchedule>(scheduleName)
            : Strategies.GetStrategy<Schedules.INoiseSchedule>("log-linear");
}
