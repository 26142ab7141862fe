namespace EsoLM.Training;

/// <summary>Progress of a training run.</summary>
/// <param name="Step">Steps done.</param>
/// <param name="TotalSteps">Steps in the run.</param>
/// <param name="Loss">Loss of the last step (per-token NELBO estimate).</param>
/// <param name="LearningRate">Learning rate of the last step.</param>
/// <param name="TokensPerSecond">Training throughput since the run (or resume) started.</param>
/// <param name="Elapsed">Time since the run (or resume) started.</param>
public readonly record struct TrainingProgress(int Step, int TotalSteps, double Loss, double LearningRate, double TokensPerSecond, TimeSpan Elapsed);
