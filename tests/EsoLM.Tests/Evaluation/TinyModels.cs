using EsoLM.Masks;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Text;
using EsoLM.Data;
using EsoLM.Training;

namespace EsoLM.Tests.Evaluation;

/// <summary>Tiny models trained once per test run on the built-in language (a few seconds), shared by the evaluation tests.</summary>
internal static class TinyModels
{
    public const int Length = 16;

    private static readonly Lazy<(EsoLmTrainer Trainer, TokenDataset Data)> Half = new(() => Train(0.5, EsoLmVariant.B, 120));

    public static CharTokenizer Tokenizer { get; } = CharTokenizer.FromCorpus(new string([.. BuiltInLanguage.Alphabet]));

    /// <summary>A variant-B model trained with α0 = 0.5.</summary>
    public static (EsoLmTrainer Trainer, TokenDataset Data) HalfAlpha => Half.Value;

    public static TokenDataset Data(int documents = 120, ulong seed = 3) =>
        TokenDataset.FromDocuments(BuiltInLanguage.CreateGenerator(seed).Documents(documents, 3), Tokenizer, Length, 0.1);

    public static ModelConfig Config() => new()
    {
        VocabSize = Tokenizer.VocabularySize + 1,
        MaskTokenId = Tokenizer.VocabularySize,
        HiddenSize = 32,
        Heads = 4,
        Layers = 2,
        CondDim = 8,
        MlpRatio = 2,
        ContextLength = Length,
        FrequencyEmbeddingSize = 16,
    };

    public static (EsoLmTrainer Trainer, TokenDataset Data) Train(double alpha0, EsoLmVariant variant, int steps)
    {
        var data = Data();
        var trainer = new EsoLmTrainer(Config(), new ObjectiveOptions { Alpha0 = alpha0, Variant = variant },
            new TrainerOptions { Steps = steps, BatchSize = 16, LearningRate = 3e-3, WarmupSteps = 10, Seed = 5, EmaDecay = 0.9 },
            data, new EsoLM.Backends.Cpu.CpuBackend(new ComputeContext(2)), Tokenizer.Describe());
        trainer.Train();
        return (trainer, data);
    }

    public static DiffusionTransformer Ema(EsoLmTrainer trainer) => new(trainer.EmaParameters, new ComputeContext(2));

    public static ReadOnlyMemory<int>[] ValidationRows(TokenDataset data) =>
        Enumerable.Range(0, data.ValidationRows).Select(i => (ReadOnlyMemory<int>)data.ValidationRow(i).ToArray()).ToArray();

    public static ReadOnlyMemory<int>[] TrainRows(TokenDataset data, int count) =>
        Enumerable.Range(0, Math.Min(count, data.TrainRows)).Select(i => (ReadOnlyMemory<int>)data.TrainRow(i).ToArray()).ToArray();
}
