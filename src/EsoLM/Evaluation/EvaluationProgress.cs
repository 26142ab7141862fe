using EsoLM.Backends;
using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Training;

namespace EsoLM.Evaluation;

/// <summary>Progress of a long evaluation.</summary>
/// <param name="Done">Units finished (batches).</param>
/// <param name="Total">Units in all.</param>
public readonly record struct EvaluationProgress(int Done, int Total);
