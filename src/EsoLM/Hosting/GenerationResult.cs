namespace EsoLM.Hosting;

/// <summary>The output of one <see cref="GenerationRequest"/>.</summary>
/// <param name="Prompt">The prompt.</param>
/// <param name="Completion">The generated text (after the prompt, cut at EOS or a stop sequence).</param>
/// <param name="TokenIds">The generated token ids (prompt excluded, before any stop-sequence cut).</param>
/// <param name="PromptTokens">Tokens in the prompt.</param>
/// <param name="FinishReason">Why generation ended.</param>
/// <param name="ForwardPasses">Network evaluations (NFE).</param>
/// <param name="Seed">The seed used (to reproduce the result).</param>
/// <param name="Sampler">The sampler key used.</param>
public sealed record GenerationResult(string Prompt, string Completion, IReadOnlyList<int> TokenIds, int PromptTokens,
    GenerationFinishReason FinishReason, int ForwardPasses, ulong Seed, string Sampler);
