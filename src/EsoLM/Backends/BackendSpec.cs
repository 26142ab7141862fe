using System.Globalization;
using EsoLM.Backends.Cpu;
using EsoLM.Tensors;

namespace EsoLM.Backends;

/// <summary>A backend string split into its kind and its argument: <c>torch:cuda:1</c> is (<c>torch</c>, <c>cuda:1</c>).</summary>
/// <param name="Name">The backend kind, trimmed and lower case.</param>
/// <param name="Argument">The text after the first colon (trimmed, lower case), or null when there is none.</param>
public readonly record struct BackendSpec(string Name, string? Argument)
{
    /// <summary>Parses <c>NAME</c> or <c>NAME:ARGUMENT</c>; null or blank gives <paramref name="defaultName"/>.</summary>
    /// <param name="value">The backend string.</param>
    /// <param name="defaultName">The kind used for a null or blank string.</param>
    /// <returns>The parsed string.</returns>
    /// <exception cref="ArgumentException">The string has an empty name or an empty argument (<c>:cuda</c>, <c>torch:</c>).</exception>
    public static BackendSpec Parse(string? value, string defaultName = CpuBackend.BackendName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(defaultName);
        if (string.IsNullOrWhiteSpace(value))
        {
            return new BackendSpec(defaultName.Trim().ToLowerInvariant(), null);
        }

        var text = value.Trim().ToLowerInvariant();
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return new BackendSpec(text, null);
        }

        var name = text[..colon].Trim();
        var argument = text[(colon + 1)..].Trim();
        if (name.Length == 0 || argument.Length == 0)
        {
            throw new ArgumentException($"Backend '{value}' is malformed: use NAME or NAME:ARGUMENT (e.g. cpu, torch:cuda:0).", nameof(value));
        }

        return new BackendSpec(name, argument);
    }

    /// <summary>The string form, <c>NAME</c> or <c>NAME:ARGUMENT</c>.</summary>
    /// <returns>The backend string.</returns>
    public override string ToString() => Argument is null ? Name : string.Create(CultureInfo.InvariantCulture, $"{Name}:{Argument}");
}
