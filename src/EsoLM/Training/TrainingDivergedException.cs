namespace EsoLM.Training;

/// <summary>Raised when the loss or the gradient becomes NaN or infinite; the last checkpoint on disk stays intact.</summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TrainingDivergedException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public TrainingDivergedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public TrainingDivergedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The step at which the loss stopped being finite.</summary>
    public int Step { get; init; }
}
