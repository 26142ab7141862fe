using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Text;

/// <summary>The GPT-2 pre-tokenization pattern (a word or number with its leading space, a run of punctuation, whitespace).</summary>
internal static partial class Gpt2Pattern
{
    /// <summary>The pattern of OpenAI's GPT-2 encoder.</summary>
    public const string Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>A pre-tokenizer that splits with the pattern and keeps <paramref name="specialTokens"/> whole.</summary>
    /// <param name="specialTokens">Special tokens to keep whole, or <see langword="null"/>.</param>
    /// <returns>The pre-tokenizer.</returns>
    public static RegexPreTokenizer PreTokenizer(IReadOnlyDictionary<string, int>? specialTokens) => new(Regex(), specialTokens);

    /// <summary>The compiled pattern.</summary>
    [GeneratedRegex(Pattern)]
    public static partial Regex Regex();
}
