#pragma warning disable CA2208 // Errors name the offending command-line option, not a method parameter.
using EsoLM.Text;
using EsoLM.Data;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Cli;

/// <summary>Resolves <c>--corpus</c> and <c>--tokenizer</c> for the commands that read text.</summary>
internal static class CorpusSource
{
    /// <summary>The built-in language's corpus name.</summary>
    public const string BuiltIn = "builtin:grammar";

    /// <summary>Documents of the corpus: the built-in language (seeded) or one document per file.</summary>
    public static IReadOnlyList<string> Documents(IReadOnlyList<string> corpus, ulong seed, int builtinDocuments)
    {
        if (corpus.Count == 0)
        {
            throw new ArgumentException($"--corpus needs '{BuiltIn}' or at least one text file.");
        }

        var docs = new List<string>();
        foreach (var c in corpus)
        {
            if (c == BuiltIn)
            {
                docs.AddRange(BuiltInLanguage.CreateGenerator(seed).Documents(builtinDocuments, 4));
            }
            else if (File.Exists(c))
            {
                docs.Add(File.ReadAllText(c));
            }
            else if (Directory.Exists(c))
            {
                throw new ArgumentException($"Corpus '{c}' (--corpus) is a directory; give its text files (one document each).", "--corpus");
            }
            else
            {
                throw new FileNotFoundException($"Corpus file '{c}' does not exist (use '{BuiltIn}' for the built-in language).", c);
            }
        }

        if (docs.All(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("The corpus is empty: every document has no text.");
        }

        return docs;
    }

    /// <summary>
    /// The tokenizer: a spec understood by <see cref="TokenizerFactory.FromSpec"/> (<c>byte</c>, <c>gpt2:DIR</c>,
    /// <c>char:FILE</c>, <c>word:FILE</c>), or <c>char</c> / <c>word</c> = characters / word pieces of the corpus (for the
    /// built-in language: its alphabet / its words). Default: <c>word</c> for the built-in language, <c>byte</c> otherwise.
    /// </summary>
    public static Tokenizer Tokenizer(string? spec, IReadOnlyList<string> corpus, IReadOnlyList<string> documents)
    {
        bool builtinOnly = corpus.All(c => c == BuiltIn);
        spec ??= builtinOnly ? "word" : "byte";
        if (spec == "word")
        {
            // The built-in language's pieces come from a large sample of it, so any generated text is covered.
            return WordTokenizer.FromCorpus(builtinOnly ? BuiltInLanguage.Corpus(0, 20000, 4) : string.Concat(documents), withUnknownToken: !builtinOnly);
        }

        if (spec == "char")
        {
            return builtinOnly
                ? CharTokenizer.FromCorpus(new string([.. BuiltInLanguage.Alphabet]))
                : CharTokenizer.FromCorpus(string.Concat(documents));
        }

        return TokenizerFactory.FromSpec(spec);
    }
}
