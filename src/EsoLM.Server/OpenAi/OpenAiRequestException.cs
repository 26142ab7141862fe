namespace EsoLM.Server.OpenAi;

/// <summary>A request the server refuses, with the OpenAI error shape's fields: the HTTP status, the field at fault and a code.</summary>
public sealed class OpenAiRequestException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="status">The HTTP status (400, 404, 429, 503…).</param>
    /// <param name="param">The request field at fault, or null.</param>
    /// <param name="code">A short machine-readable code, e.g. <c>invalid_json</c>.</param>
    /// <param name="message">The message.</param>
    public OpenAiRequestException(int status, string? param, string code, string message)
        : base(message)
    {
        Status = status;
        Param = param;
        Code = code;
    }

    /// <summary>Creates an exception with status 400.</summary>
    public OpenAiRequestException()
        : this(400, null, "invalid_request", "The request is invalid.")
    {
    }

    /// <summary>Creates an exception with status 400 and a message.</summary>
    /// <param name="message">The message.</param>
    public OpenAiRequestException(string message)
        : this(400, null, "invalid_request", message)
    {
    }

    /// <summary>Creates an exception with status 400, a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public OpenAiRequestException(string message, Exception innerException)
        : base(message, innerException)
    {
        Status = 400;
        Code = "invalid_request";
    }

    /// <summary>The HTTP status.</summary>
    public int Status { get; }

    /// <summary>The request field at fault, or null.</summary>
    public string? Param { get; }

    /// <summary>A short machine-readable code.</summary>
    public string Code { get; } = "invalid_request";

    internal static OpenAiRequestException Field(string param, string message) => new(400, param, "invalid_value", message);
}
