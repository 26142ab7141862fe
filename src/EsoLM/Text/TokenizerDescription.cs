namespace EsoLM.Text;

/// <summary>
/// A self-contained, serialisable description of a tokenizer (stored inside model files). Rebuild the tokenizer with
/// <see cref="TokenizerFactory.FromDescription"/>.
/// </summary>
/// <param name="Kind">The tokenizer kind: <c>byte</c>, <c>char</c> or <c>gpt2</c>.</param>
/// <param name="Payload">Kind-specific data (for <c>gpt2</c>, JSON holding the whole vocabulary and merge list).</param>
public sealed record TokenizerDescription(string Kind, string Payload);
