using System.Text.RegularExpressions;
using EsoLM.Hosting;
using EsoLM.Pipeline;
using EsoLM.Text;
using EsoLM.Data;
using EsoLM.Training;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Tests.Text;

/// <summary>
/// Eso-LMs trained and sampled with ML.Tokenizers tokenizers (BERT WordPiece from a small vocabulary file, Tiktoken), saved and
/// loaded again: the model file carries the tokenizer, and the reloaded model generates exactly what the original did.
/// </summary>
public sealed partial class LibraryTokenizerModelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("esolm-libtok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void WordPiece_model_trains_samples_and_survives_a_save_load_round_trip()
    {
        // A small uncased vocabulary: the built-in language's words and punctuation, with BERT's special tokens placed so that
        // [MASK] is neither first nor last (the model must use it, not append a mask id).
        var words = WordRegex().Matches(BuiltInLanguage.Corpus(0, 4000, 4).ToLowerInvariant()).Select(m => m.Value).Distinct().Order(StringComparer.Ordinal).ToList();
        var half = words.Count / 2;
        string[] lines = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", .. words[..half], "[MASK]", .. words[half..], "##s"];
        var vocabPath = Path.Combine(_dir, "vocab.txt");
        File.WriteAllLines(vocabPath, lines);
        #region wordpiece-vocabulary
        var tokenizer = TokenizerFactory.FromSpec("bert:" + vocabPath);   // BertTokenizer (WordPiece), vocabulary embedded when saved
        var vocabulary = TokenizerVocabulary.Of(tokenizer);
        var mask = Array.IndexOf(lines, "[MASK]");
        Assert.Equal(lines.Length, vocabulary.Size);
        Assert.Equal(mask, vocabulary.MaskTokenId);                          // the model's mask id: [MASK], not an appended id
        Assert.Equal(Array.IndexOf(lines, "[SEP]"), vocabulary.EndOfTextId); // documents are separated by [SEP]
        Assert.Equal(lines.Length, vocabulary.ModelVocabularySize);
        #endregion

        Assert.IsType<BertTokenizer>(tokenizer);
        Assert.True(mask > 0 && mask < lines.Length - 1);

        var document = BuiltInLanguage.CreateGenerator(3).Documents(1, 2).Single();
        Assert.Equal(
            WordRegex().Matches(document.ToLowerInvariant()).Select(m => m.Value),
            WordRegex().Matches(tokenizer.Decode(tokenizer.Encode(document))).Select(m => m.Value));
        Assert.DoesNotContain(Array.IndexOf(lines, "[UNK]"), tokenizer.Encode(document));

        TrainSampleSaveLoad(tokenizer, vocabulary, "wordpiece.esolm");
    }

    [Fact]
    public void Tiktoken_model_trains_samples_and_survives_a_save_load_round_trip()
    {
        var tokenizer = TokenizerFactory.FromSpec("tiktoken:gpt2");
        var vocabulary = TokenizerVocabulary.Of(tokenizer);
        Assert.Null(vocabulary.MaskTokenId);
        Assert.Equal(vocabulary.Size + 1, vocabulary.ModelVocabularySize);
        TrainSampleSaveLoad(tokenizer, vocabulary, "tiktoken.esolm");
    }

    private void TrainSampleSaveLoad(Tokenizer tokenizer, TokenizerVocabulary vocabulary, string fileName)
    {
        var documents = BuiltInLanguage.CreateGenerator(5).Documents(40, 2);
        var estimator = new EsoLmEstimator(new EsoLmEstimatorOptions
        {
            Tokenizer = tokenizer,
            ContextLength = 16,
            HiddenSize = 16,
            Heads = 2,
            Layers = 1,
            CondDim = 8,
            MlpRatio = 2,
            Threads = 2,
            Trainer = new TrainerOptions { Steps = 6, BatchSize = 4, WarmupSteps = 1, LearningRate = 3e-3, Seed = 2 },
            Generation = new EsoLmOptions { Steps = 4, MaxNewTokens = 8 },
        });
        var trained = estimator.Fit(documents);
        var config = trained.Model.Config;
        Assert.Equal(vocabulary.ModelVocabularySize, config.VocabSize);
        Assert.Equal(vocabulary.ModelMaskTokenId, config.MaskTokenId);

        GenerationRequest[] requests = [new("the ") { Seed = 11 }, new("a dog ") { Seed = 12 }];
        var before = trained.Transform(requests).ToList();
        foreach (var result in before)
        {
            Assert.NotEmpty(result.TokenIds);
            Assert.All(result.TokenIds, id => Assert.True(id >= 0 && id < vocabulary.Size && id != config.MaskTokenId, $"id {id}"));
        }

        var path = Path.Combine(_dir, fileName);
        #region library-tokenizer-round-trip
        trained.Save(path);                                  // the model file carries the tokenizer's description
        var loaded = EsoLmTransformer.Load(path);            // ... and rebuilds the same tokenizer
        Assert.Equal(tokenizer.Describe(), loaded.Model.Tokenizer.Describe());
        #endregion
        Assert.Equal(tokenizer.GetType(), loaded.Model.Tokenizer.GetType());
        foreach (var document in documents.Take(5))
        {
            Assert.Equal(tokenizer.Encode(document), loaded.Model.Tokenizer.Encode(document));
        }

        var after = loaded.Transform(requests).ToList();
        Assert.Equal(before.Select(r => r.TokenIds.ToArray()), after.Select(r => r.TokenIds.ToArray()));
        Assert.Equal(before.Select(r => r.Completion), after.Select(r => r.Completion));
    }

    [GeneratedRegex(@"\w+|[^\w\s]")]
    private static partial Regex WordRegex();
}
