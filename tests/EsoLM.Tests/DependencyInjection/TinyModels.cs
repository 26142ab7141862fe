using EsoLM.Hosting;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Text;
using EsoLM.Data;

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

    /// <summary>A byte-tokenizer model (the chat template's ':' and letters are all encodable).</summary>
    public static EsoLmModel ByteModel(ulong seed = 11, int length = 32) =>
        new(new DiffusionTransformer(ModelParameters.CreateRandom(Config(length) with { VocabSize = 258, MaskTokenId = 257 }, seed, 0.3f),
            new ComputeContext(1)), new ByteTokenizer());

    public static EsoLmModel Model(ulong seed = 7, int length = 24) =>
        new(new DiffusionTransformer(ModelParameters.CreateRandom(Config(length), seed, 0.3f), new ComputeContext(1)), Tokenizer);
}
