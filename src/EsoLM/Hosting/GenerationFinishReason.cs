namespace EsoLM.Hosting;

/// <summary>Why a generation ended.</summary>
public enum GenerationFinishReason
{
    /// <summary>The requested length was reached.</summary>
    Length = 0,

    /// <summary>The model produced its end-of-sequence token.</summary>
    EndOfSequence = 1,

    /// <summary>A stop sequence appeared.</summary>
    StopSequence = 2,
}
