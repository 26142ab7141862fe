using EsoLM.Modeling;
using EsoLM.Training;

namespace EsoLM.Backends;

/// <summary>The host copy of an <see cref="ITrainingState"/>, as saved in a checkpoint.</summary>
/// <param name="Parameters">The raw weights.</param>
/// <param name="Ema">The EMA shadow weights.</param>
/// <param name="FirstMoment">AdamW m.</param>
/// <param name="SecondMoment">AdamW v.</param>
/// <param name="OptimizerSteps">AdamW updates taken.</param>
/// <param name="EmaUpdates">EMA updates taken.</param>
public sealed record TrainingStateSnapshot(ModelParameters Parameters, ModelParameters Ema, ModelParameters FirstMoment,
    ModelParameters SecondMoment, long OptimizerSteps, long EmaUpdates);
