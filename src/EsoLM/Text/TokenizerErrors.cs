namespace EsoLM.Text;

/// <summary>Exceptions shared by the tokenizers.</summary>
internal static class TokenizerErrors
{
    public static ArgumentOutOfRangeException IdOutOfRange(string paramName, int id, int index, int vocabularySize) =>
        new(paramName, id, $"Token id {id} at index {index} is outside the vocabulary: ids must be in [0, {vocabularySize}).");
}
