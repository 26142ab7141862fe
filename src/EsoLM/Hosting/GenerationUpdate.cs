namespace EsoLM.Hosting;

/// <summary>A streaming step: the committed completion text grew (append-only).</summary>
/// <param name="NewText">Text appended since the previous update.</param>
/// <param name="Step">The sampler step.</param>
/// <param name="Result">The final result, on the last update only.</param>
public sealed record GenerationUpdate(string NewText, int Step, GenerationResult? Result);
