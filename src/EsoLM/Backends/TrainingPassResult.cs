using EsoLM.Modeling;
using EsoLM.Training;

namespace EsoLM.Backends;

/// <summary>The outcome of <see cref="ITrainingGraph.Run"/>.</summary>
/// <param name="Loss">Σ over rows of weight·(−log p(target)) (the zero-masked model distribution).</param>
/// <param name="LossRows">Number of rows with a non-zero weight.</param>
public readonly record struct TrainingPassResult(double Loss, int LossRows);
