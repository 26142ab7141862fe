namespace EsoLM.TorchSharp;

/// <summary>libtorch (or its CUDA build) could not be loaded; the message names the fix.</summary>
public sealed class TorchBackendUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TorchBackendUnavailableException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public TorchBackendUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the underlying failure.</summary>
    public TorchBackendUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
