namespace EsoLM.Backends;

/// <summary>
/// Creates compute backends of one kind from a backend string: <c>NAME</c> or <c>NAME:ARGUMENT</c> (for example
/// <c>cpu</c>, <c>torch:cuda:1</c>). Registered in <see cref="ComputeBackendRegistry"/>, so that code which only knows
/// a string (the ML.NET stages, a saved pipeline, a configuration file) can reach a backend that lives in another package.
/// </summary>
public interface IComputeBackendProvider
{
    /// <summary>The backend kind this provider creates, e.g. <c>torch</c> (lower case; the part of the string before the first colon).</summary>
    string Name { get; }

    /// <summary>The accepted strings for messages and help, e.g. <c>torch[:cpu|:cuda[:N]]</c>.</summary>
    string Usage { get; }

    /// <summary>
    /// Checks the part after <c>NAME:</c> without creating anything (no native library is loaded).
    /// Throws <see cref="ArgumentException"/> naming the value and the accepted forms.
    /// </summary>
    /// <param name="argument">The text after the first colon, or null when the string is just the name.</param>
    void ValidateArgument(string? argument);

    /// <summary>Creates the backend.</summary>
    /// <param name="argument">The text after the first colon, or null when the string is just the name.</param>
    /// <param name="threads">CPU threads the backend may use; null = its default.</param>
    /// <returns>The backend.</returns>
    IComputeBackend Create(string? argument, int? threads);
}
