using EsoLM.Backends;
using EsoLM.Backends.Cpu;
using System.Diagnostics;
using EsoLM.Evaluation;
using EsoLM.IO;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Text;

namespace EsoLM.Training;

/// <summary>
/// Trains an Eso-LM: per step a batch of rows → the objective's corruption → forward/backward → gradient clipping → AdamW
/// at the scheduled learning rate → EMA. Deterministic: data order, corruption and dropout are keyed by (seed, step), so
/// N steps in one run and N/2 + resume + N/2 give bit-identical weights. A non-finite loss or gradient stops the run with
/// <see cref="TrainingDivergedException"/> before the weights change; checkpoints are written atomically.
/// </summary>
public sealed class EsoLmTrainer
{
    private readonly TokenDataset _data;
    private readonly EsoLmObjective _objective;
    private readonly ITrainingGraph _graph;
    private readonly IGradients _gradients;
    private readonly ITrainingState _state;
    private readonly LearningRateSchedule _schedule;
    private readonly int[] _batchTokens;

    /// <summary>Starts a run from the reference initialisation (seeded by <see cref="TrainerOptions.Seed"/>).</summary>
    /// <param name="config">The model shape.</param>
    /// <param name="objective">Objective settings.</param>
    /// <param name="options">Run settings.</param>
    /// <param name="data">The training rows.</param>
    /// <param name="backend">The compute backend the weights, gradients and optimizer state live on; null = <see cref="CpuBackend.Default"/>.</param>
    /// <param name="tokenizer">The tokenizer stored with checkpoints and the model file.</param>
    public EsoLmTrainer(ModelConfig config, ObjectiveOptions objective, TrainerOptions options, TokenDataset data,
        IComputeBackend? backend = null, TokenizerDescription? tokenizer = null)
        : this(ModelParameters.CreateInitialized(Checked(config, data), options?.Seed ?? 1), null, objective, options!, data, backend, tokenizer)
    {
    }

    private EsoLmTrainer(ModelParameters parameters, CheckpointState? resume, ObjectiveOptions objective, TrainerOptions options, TokenDataset data,
        IComputeBackend? backend, TokenizerDescription? tokenizer)
    {
        ArgumentNullException.ThrowIfNull(objective);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(data);
        options.Validate();
        objective.Validate();
        Checked(parameters.Config, data);
        Options = options;
        ObjectiveOptions = objective;
        Tokenizer = tokenizer;
        _data = data;
        Model = (backend ?? CpuBackend.Default).Load(parameters);
        _objective = new EsoLmObjective(objective, parameters.Config.MaskTokenId);
        _graph = Model.CreateTrainingGraph();
        _graph.DropoutRate = options.Dropout;
        _gradients = Model.CreateGradients();
        _state = Model.CreateTrainingState(options.Optimizer, options.EmaDecay);
        _schedule = new LearningRateSchedule(options.LearningRate, options.WarmupSteps, options.Steps, options.Decay);
        _batchTokens = new int[options.BatchSize * data.Length];
        if (resume is not null)
        {
            _state.Restore(new TrainingStateSnapshot(resume.Parameters, resume.Ema, resume.FirstMoment, resume.SecondMoment,
                resume.OptimizerSteps, resume.EmaUpdates));
            Step = resume.Step;
        }
    }

    /// <summary>Continues a run from a checkpoint. The model config, objective, data and step-defining settings must match.</summary>
    public static EsoLmTrainer Resume(string checkpointPath, ObjectiveOptions objective, TrainerOptions options, TokenDataset data,
        IComputeBackend? backend = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(checkpointPath);
        ArgumentNullException.ThrowIfNull(objective);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(data);
        var state = Checkpoint.Load(checkpointPath);
        void Same(string what, string saved, string now)
        {
            if (saved != now)
            {
                throw new InvalidOperationException(
                    $"Cannot resume from '{checkpointPath}': its {what} differ from this run's.\n  checkpoint: {saved}\n  this run:   {now}");
            }
        }

        Same("objective settings", state.Objective, Checkpoint.Describe(objective));
        Same("trainer settings", state.Trainer, Checkpoint.Describe(options));
        if (state.DataFingerprint != data.Fingerprint)
        {
            throw new InvalidOperationException($"Cannot resume from '{checkpointPath}': it was trained on different data (fingerprint mismatch).");
        }

        if (state.Step > options.Steps)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Steps, $"The checkpoint is already at step {state.Step}, past --steps {options.Steps}.");
        }

        return new EsoLmTrainer(state.Parameters, state, objective, options, data, backend, state.Tokenizer);
    }

    /// <summary>Checks that a model config and a checkpoint's agree, naming the difference (used before resuming with a given config).</summary>
    public static void EnsureSameConfig(ModelConfig expected, string checkpointPath)
    {
        ArgumentNullException.ThrowIfNull(expected);
        var saved = Checkpoint.Load(checkpointPath).Config;
        if (saved != expected)
        {
            throw new InvalidOperationException(
                $"Cannot resume from '{checkpointPath}': it holds a model with config {saved.ToJson()}, this run asks for {expected.ToJson()}.");
        }
    }

    /// <summary>The network being trained (raw weights), on its backend.</summary>
    public INetwork Model { get; }

    /// <summary>A host copy of the EMA weights (what inference should use).</summary>
    public ModelParameters EmaParameters => _state.CopyEmaToHost();

    /// <summary>Run settings.</summary>
    public TrainerOptions Options { get; }

    /// <summary>Objective settings.</summary>
    public ObjectiveOptions ObjectiveOptions { get; }

    /// <summary>The tokenizer stored with checkpoints and the model file.</summary>
    public TokenizerDescription? Tokenizer { get; }

    /// <summary>Optimizer steps done.</summary>
    public int Step { get; private set; }

    /// <summary>
    /// Trains until <see cref="TrainerOptions.Steps"/>, reporting progress every step, writing a checkpoint to
    /// <paramref name="checkpointPath"/> (when given) every <see cref="TrainerOptions.CheckpointInterval"/> steps and at the end.
    /// Returns the last progress report.
    /// </summary>
    public TrainingProgress Train(IProgress<TrainingProgress>? progress = null, string? checkpointPath = null, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        int startStep = Step;
        int rowTokens = Options.BatchSize * Options.GradientAccumulation * _data.Length;
        var last = new TrainingProgress(Step, Options.Steps, double.NaN, 0, 0, TimeSpan.Zero);
        while (Step < Options.Steps)
        {
            cancellationToken.ThrowIfCancellationRequested();
            double loss = TrainStep();
            var elapsed = watch.Elapsed;
            last = new TrainingProgress(Step, Options.Steps, loss, _schedule.At(Step - 1), (Step - startStep) * (double)rowTokens / Math.Max(1e-9, elapsed.TotalSeconds), elapsed);
            progress?.Report(last);
            if (checkpointPath is not null && Options.CheckpointInterval > 0 && Step % Options.CheckpointInterval == 0 && Step < Options.Steps)
            {
                SaveCheckpoint(checkpointPath);
            }
        }

        if (checkpointPath is not null)
        {
            SaveCheckpoint(checkpointPath);
        }

        return last;
    }

    /// <summary>
    /// One optimizer step (over <see cref="TrainerOptions.GradientAccumulation"/> micro-batches); returns its loss (the
    /// mean of the micro-batches' losses).
    /// </summary>
    public double TrainStep()
    {
        int b = Options.BatchSize, length = _data.Length, micro = Options.GradientAccumulation;
        var prof = (Model as DiffusionTransformer)?.Profile;
        long t = prof is null ? 0 : StepProfile.Start();
        _gradients.Clear();
        t = DiffusionTransformer.Mark(prof, StepPhase.Optimizer, t);
        double loss = 0;
        for (int k = 0; k < micro; k++)
        {
            // Micro-batch k of step s is drawn as step s·N + k: its data rows are rows [k·B, (k+1)·B) of the step's
            // N·B-row batch, and its corruption and dropout keys are its own (N = 1: exactly the plain step).
            long key = ((long)Step * micro) + k;
            t = prof is null ? 0 : StepProfile.Start();
            _data.FillBatch(key, b, Options.Seed, _batchTokens);
            DiffusionTransformer.Mark(prof, StepPhase.Data, t);
            _graph.DropoutSeed = Randomness.CounterHash.Key(Options.Seed, (ulong)key, 0xD0);
            var value = _objective.Evaluate(_graph, _batchTokens, b, length, Options.Seed, key, _gradients);
            loss = micro == 1 ? value.Loss : loss + (value.Loss / micro);
        }

        t = prof is null ? 0 : StepProfile.Start();
        // The gradients hold the SUM over the micro-batches; the step uses their mean.
        double norm = micro == 1 ? _gradients.Norm() : _gradients.Norm() / micro;
        if (!double.IsFinite(loss) || !double.IsFinite(norm))
        {
            throw new TrainingDivergedException(
                $"Training diverged at step {Step + 1}: loss {loss}, gradient norm {norm}. The weights were not updated; the last checkpoint is intact. " +
                "Try a lower learning rate or a longer warm-up.")
            { Step = Step + 1 };
        }

        double factor = micro == 1 ? 1 : 1.0 / micro;
        if (Options.GradientClip > 0 && norm > Options.GradientClip)
        {
            factor *= Options.GradientClip / (norm + 1e-6);
        }

        if (factor != 1)
        {
            _gradients.Scale((float)factor);
        }

        DiffusionTransformer.Mark(prof, StepPhase.GradientNorm, t);

        _state.Update(_gradients, _schedule.At(Step));
        _state.UpdateEma();
        Step++;
        return loss;
    }

    /// <summary>Writes the training state (atomically).</summary>
    public void SaveCheckpoint(string path)
    {
        var s = _state.CopyToHost();
        Checkpoint.Save(path, new CheckpointState(Model.Config, s.Parameters, s.Ema, s.FirstMoment, s.SecondMoment, Step, s.OptimizerSteps,
            s.EmaUpdates, Checkpoint.Describe(ObjectiveOptions), Checkpoint.Describe(Options), _data.Fingerprint, Tokenizer));
    }

    /// <summary>Writes the EMA weights as a model file (atomically), with the objective settings in the metadata.</summary>
    public void SaveModel(string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>()) { ["esolm.objective"] = Checkpoint.Describe(ObjectiveOptions) };
        ModelFile.Save(path, _state.CopyEmaToHost(), Tokenizer, meta);
    }

    /// <summary>NELBO perplexity of the held-out rows under the EMA weights (fixed seed, ELBO weights, training α0 and split).</summary>
    public NelboResult ValidationNelbo(int batchSize = 16, CancellationToken cancellationToken = default)
    {
        if (_data.ValidationRows == 0)
        {
            throw new InvalidOperationException("The dataset has no validation rows.");
        }

        var ema = Model.Backend.Load(_state.CopyEmaToHost());
        var rows = Enumerable.Range(0, _data.ValidationRows).Select(i => (ReadOnlyMemory<int>)_data.ValidationRow(i).ToArray()).ToArray();
        return NelboEvaluator.Evaluate(ema, ObjectiveOptions, rows.Length, _data.Length, i => rows[i], batchSize, seed: 12345, cancellationToken);
    }

    private static ModelConfig Checked(ModelConfig config, TokenDataset data)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(data);
        config.Validate();
        if (data.Length > config.ContextLength)
        {
            throw new ArgumentOutOfRangeException(nameof(data), data.Length,
                $"The data rows are {data.Length} tokens long but the model's context is {config.ContextLength}.");
        }

        return config;
    }
}
