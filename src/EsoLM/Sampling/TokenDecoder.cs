using EsoLM.Backends;
using EsoLM.Modeling;

namespace EsoLM.Sampling;

/// <summary>Decodes token ids to text (for streaming); hook for a <c>Tokenizer</c>.</summary>
/// <param name="tokens">The ids.</param>
/// <returns>The text.</returns>
public delegate string TokenDecoder(ReadOnlySpan<int> tokens);
