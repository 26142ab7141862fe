namespace EsoLM.IO;

/// <summary>
/// Thrown when a safetensors file is malformed: bad header length, invalid JSON, a bad tensor entry,
/// or byte ranges that do not fit the data region. The message names the file (when known), the tensor,
/// the field, the offending value and the limit it broke.
/// </summary>
/// <remarks>
/// Derives from <see cref="IOException"/> because <see cref="InvalidDataException"/> is sealed; a
/// <c>catch (IOException)</c> around file loading therefore sees both missing and malformed files.
/// </remarks>
public sealed class SafetensorsFormatException : IOException
{
    /// <summary>Creates an exception with a default message.</summary>
    public SafetensorsFormatException()
        : base("The safetensors data is malformed.")
    {
    }

    /// <summary>Creates an exception with the given message.</summary>
    /// <param name="message">What is wrong.</param>
    public SafetensorsFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with the given message and cause.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The underlying error.</param>
    public SafetensorsFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The file the error was found in, when known.</summary>
    public string? FilePath { get; init; }

    /// <summary>The tensor the error concerns, when it concerns one.</summary>
    public string? TensorName { get; init; }

    /// <summary>Builds an exception whose message is prefixed with the file and tensor.</summary>
    internal static SafetensorsFormatException Create(string? filePath, string? tensorName, string detail, Exception? inner = null)
    {
        var where = filePath is null ? "Invalid safetensors data" : $"Invalid safetensors file '{filePath}'";
        var message = tensorName is null ? $"{where}: {detail}" : $"{where}: tensor '{tensorName}': {detail}";
        return inner is null
            ? new SafetensorsFormatException(message) { FilePath = filePath, TensorName = tensorName }
            : new SafetensorsFormatException(message, inner) { FilePath = filePath, TensorName = tensorName };
    }
}
