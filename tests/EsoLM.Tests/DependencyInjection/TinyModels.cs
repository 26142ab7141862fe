using EsoLM.Hosting;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Text;
using EsoLM.Text.Grammar;

namespace EsoLM.Tests.DependencyInjection;

/// <summary>Tiny untrained models for the library-surface tests (hidden 32, 2 layers, L = 24, char tokenizer).</summary>
internal static class TinyModels
{
    public static CharTokenizer Tokenizer { get; } = CharTokenizer.FromCorpus(new string([.. BuiltInLanguage.Alphabet]));

    public static ModelConfig Config(int length = 24) => new()
    {
        VocabSize = Tokenizer.VocabularySize + 1,
        MaskTokenId = Tokenizer.VocabularySize,
        HiddenSize = 32,
        Heads = 4,
        Layers = 2,
        CondDim = 8,
        MlpRatio = 2,
        ContextLength = length,
        FrequencyEmbeddingSize = 16,
    };

    public static EsoLmModel Model(ulong seed = 7, int length = 24) =>
        new(new DiffusionTransformer(ModelParameters.CreateRandom(Config(length), seed, 0.3f), new ComputeContext(1)), Tokenizer);
}
