using EsoLM.Backends;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Training;

namespace EsoLM.Evaluation;

/// <summary>The importance-weighted ("exact") perplexity of a set of rows.</summary>
/// <param name="Perplexity">exp(<paramref name="NllPerToken"/>).</param>
/// <param name="NllPerToken">−Σ_rows log p̂(x) / (rows · L), with log p̂ = logsumexp_k log p(x | σ_k) − log K.</param>
/// <param name="Orders">K, the orders per batch.</param>
/// <param name="Tokens">rows · L.</param>
public readonly record struct ExactLikelihoodResult(double Perplexity, double NllPerToken, int Orders, long Tokens);
