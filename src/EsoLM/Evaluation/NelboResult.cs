using EsoLM.Backends;
using EsoLM.Modeling;
using EsoLM.Training;

namespace EsoLM.Evaluation;

/// <summary>The NELBO perplexity of a set of rows.</summary>
/// <param name="Perplexity">exp(Σ nlls / Σ tokens).</param>
/// <param name="NllPerToken">Σ nlls / Σ tokens (nats).</param>
/// <param name="Tokens">Tokens counted (the reference's num_tokens bookkeeping).</param>
public readonly record struct NelboResult(double Perplexity, double NllPerToken, long Tokens);
