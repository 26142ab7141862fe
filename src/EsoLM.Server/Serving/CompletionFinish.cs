namespace EsoLM.Server.Serving;

/// <summary>Why a completion ended, in OpenAI's words.</summary>
public enum CompletionFinish
{
    /// <summary><c>stop</c>: end of sequence or a stop sequence.</summary>
    Stop,

    /// <summary><c>length</c>: the token limit.</summary>
    Length,
}
