using System.Globalization;
using EsoLM.Backends.Cpu;
using EsoLM.Tensors;

namespace EsoLM.Backends;

/// <summary>
/// The process-wide table of backend kinds that can be created from a string. <c>cpu</c> (the managed engine) is always
/// there; a backend package adds its own (EsoLM.TorchSharp: <c>TorchBackendProvider.Register()</c> adds <c>torch</c>).
/// The CLI's <c>--backend</c> and the ML.NET stages' <c>Backend</c> option resolve through it. Thread-safe.
/// </summary>
public static class ComputeBackendRegistry
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, IComputeBackendProvider> Providers = new(StringComparer.Ordinal)
    {
        [CpuBackend.BackendName] = new CpuProvider(),
    };

    /// <summary>The registered kinds' accepted strings (<see cref="IComputeBackendProvider.Usage"/>), <c>cpu</c> first.</summary>
    public static IReadOnlyList<string> Usages
    {
        get
        {
            lock (Gate)
            {
                return [.. Providers.Values.OrderBy(p => p.Name == CpuBackend.BackendName ? 0 : 1).ThenBy(p => p.Name, StringComparer.Ordinal).Select(p => p.Usage)];
            }
        }
    }

    /// <summary>Adds a backend kind, or replaces the provider registered under the same name.</summary>
    /// <param name="provider">The provider.</param>
    /// <exception cref="ArgumentException">The name is blank, contains a colon or is not lower case, or is <c>cpu</c>.</exception>
    public static void Register(IComputeBackendProvider provider)
    {
        ArgumentNullException.ThrowIfNull(provider);
        var name = provider.Name;
        if (string.IsNullOrWhiteSpace(name) || name.Contains(':', StringComparison.Ordinal) || !string.Equals(name, name.Trim().ToLowerInvariant(), StringComparison.Ordinal))
        {
            throw new ArgumentException($"Backend provider name '{name}' must be non-blank, lower case, without spaces or colons.", nameof(provider));
        }

        if (name == CpuBackend.BackendName)
        {
            throw new ArgumentException("The 'cpu' backend is built in and cannot be replaced.", nameof(provider));
        }

        lock (Gate)
        {
            Providers[name] = provider;
        }
    }

    /// <summary>Whether a backend kind is registered.</summary>
    /// <param name="name">The kind, e.g. <c>torch</c>.</param>
    /// <returns>True when <see cref="Create"/> can resolve it.</returns>
    public static bool IsRegistered(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (Gate)
        {
            return Providers.ContainsKey(name.Trim().ToLowerInvariant());
        }
    }

    /// <summary>
    /// Checks a backend string (syntax, a registered kind, a valid argument) without creating the backend, so that options
    /// can be checked early and without loading native libraries.
    /// </summary>
    /// <param name="backend">The backend string; null or blank = <c>cpu</c>.</param>
    /// <param name="paramName">The argument or option name to put in the exception.</param>
    /// <returns>The parsed string.</returns>
    /// <exception cref="ArgumentOutOfRangeException">Unknown kind or bad argument; the message names the value and the accepted forms.</exception>
    public static BackendSpec Validate(string? backend, string paramName = "backend")
    {
        var (spec, provider) = Find(backend, paramName);
        try
        {
            provider.ValidateArgument(spec.Argument);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentOutOfRangeException(paramName, backend, $"Backend '{backend}': {e.Message.Split(" (Parameter", 2)[0]} Accepted: {provider.Usage}.");
        }

        return spec;
    }

    /// <summary>Creates the backend a string names.</summary>
    /// <param name="backend">The backend string (<c>cpu</c>, <c>torch:cuda:1</c>, …); null or blank = <c>cpu</c>.</param>
    /// <param name="threads">CPU threads (≥ 1); null = the backend's default (all cores for <c>cpu</c>).</param>
    /// <param name="paramName">The argument or option name to put in exceptions.</param>
    /// <returns>The backend (the shared <see cref="CpuBackend.Default"/> for plain <c>cpu</c> without a thread count).</returns>
    /// <exception cref="ArgumentOutOfRangeException">Unknown kind, bad argument or a thread count below 1.</exception>
    public static IComputeBackend Create(string? backend, int? threads = null, string paramName = "backend")
    {
        if (threads is int t)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(t, 1, nameof(threads));
        }

        var spec = Validate(backend, paramName);
        IComputeBackendProvider provider;
        lock (Gate)
        {
            provider = Providers[spec.Name];
        }

        return provider.Create(spec.Argument, threads);
    }

    private static (BackendSpec Spec, IComputeBackendProvider Provider) Find(string? backend, string paramName)
    {
        BackendSpec spec;
        try
        {
            spec = BackendSpec.Parse(backend);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentOutOfRangeException(paramName, backend, e.Message.Split(" (Parameter", 2)[0]);
        }

        lock (Gate)
        {
            if (Providers.TryGetValue(spec.Name, out var provider))
            {
                return (spec, provider);
            }
        }

        string hint = spec.Name == "torch"
            ? " The torch backend lives in the EsoLM.TorchSharp package: reference it (and a libtorch package) and call TorchBackendProvider.Register() once at start-up."
            : string.Empty;
        throw new ArgumentOutOfRangeException(paramName, backend,
            $"Unknown compute backend '{backend}'; this process knows: {string.Join(", ", Usages)}.{hint}");
    }

    /// <summary>The built-in managed engine: <c>cpu</c> (no argument).</summary>
    private sealed class CpuProvider : IComputeBackendProvider
    {
        public string Name => CpuBackend.BackendName;

        public string Usage => CpuBackend.BackendName;

        public void ValidateArgument(string? argument)
        {
            if (argument is not null)
            {
                throw new ArgumentException($"the cpu backend takes no argument (got '{argument}').", nameof(argument));
            }
        }

        public IComputeBackend Create(string? argument, int? threads)
        {
            ValidateArgument(argument);
            return threads is int t ? new CpuBackend(new ComputeContext(t)) : CpuBackend.Default;
        }
    }
}
