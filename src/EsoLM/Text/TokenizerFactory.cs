namespace EsoLM.Text;

/// <summary>Builds tokenizers from descriptions (stored in model files) and from command-line specs.</summary>
public static class TokenizerFactory
{
    /// <summary>The accepted spec forms, for messages.</summary>
    public const string AcceptedSpecs =
        "'byte', 'gpt2:DIR' (DIR holds encoder.json and vocab.bpe), 'char:FILE' (alphabet built from a corpus file) or 'word:FILE' (pieces of a corpus file)";

    /// <summary>Rebuilds a tokenizer from the self-contained description returned by <see cref="ITokenizer.Describe"/>.</summary>
    /// <param name="description">The description.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ArgumentException">The kind is unknown.</exception>
    /// <exception cref="InvalidDataException">The payload is not a valid description of its kind (e.g. a damaged model file).</exception>
    public static ITokenizer FromDescription(TokenizerDescription description)
    {
        ArgumentNullException.ThrowIfNull(description);
        try
        {
            return Build(description);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or KeyNotFoundException or IndexOutOfRangeException
            or OverflowException or InvalidCastException or System.Text.Json.JsonException)
        {
            throw new InvalidDataException($"The '{description.Kind}' tokenizer description is not valid: {e.Message}", e);
        }
    }

    private static ITokenizer Build(TokenizerDescription description)
    {
        return description.Kind switch
        {
            ByteTokenizer.Kind => description.Payload.Length == 0
                ? new ByteTokenizer()
                : throw new InvalidDataException("A byte tokenizer description has an empty payload."),
            CharTokenizer.Kind => CharTokenizer.FromDescription(description),
            Gpt2BpeTokenizer.Kind => Gpt2BpeTokenizer.FromDescription(description),
            WordTokenizer.Kind => WordTokenizer.FromDescription(description),
            _ => throw new ArgumentException(
                $"Unknown tokenizer kind '{description.Kind}'; known kinds: '{ByteTokenizer.Kind}', '{CharTokenizer.Kind}', '{Gpt2BpeTokenizer.Kind}', '{WordTokenizer.Kind}'.",
                nameof(description)),
        };
    }

    /// <summary>Builds a tokenizer from a command-line spec: <c>byte</c>, <c>gpt2:DIR</c> or <c>char:FILE</c>.</summary>
    /// <param name="spec">The spec.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ArgumentException">The spec is not one of the accepted forms.</exception>
    /// <exception cref="FileNotFoundException">A file the spec names does not exist.</exception>
    /// <exception cref="DirectoryNotFoundException">The directory of a <c>gpt2:DIR</c> spec does not exist.</exception>
    public static ITokenizer FromSpec(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (string.Equals(spec, ByteTokenizer.Kind, StringComparison.Ordinal))
        {
            return new ByteTokenizer();
        }

        var colon = spec.IndexOf(':', StringComparison.Ordinal);
        var kind = colon < 0 ? spec : spec[..colon];
        var argument = colon < 0 ? string.Empty : spec[(colon + 1)..];
        if (colon > 0 && argument.Length > 0)
        {
            switch (kind)
            {
                case "gpt2":
                    if (!Directory.Exists(argument))
                    {
                        throw new DirectoryNotFoundException($"GPT-2 vocabulary directory '{argument}' does not exist (spec '{spec}').");
                    }

                    return Gpt2BpeTokenizer.Load(RequireFile(argument, "encoder.json"), RequireFile(argument, "vocab.bpe"));
                case "char":
                    if (!File.Exists(argument))
                    {
                        throw new FileNotFoundException($"Corpus file '{argument}' does not exist (spec '{spec}').", argument);
                    }

                    return CharTokenizer.FromCorpus(File.ReadAllText(argument));
                case "word":
                    if (!File.Exists(argument))
                    {
                        throw new FileNotFoundException($"Corpus file '{argument}' does not exist (spec '{spec}').", argument);
                    }

                    return WordTokenizer.FromCorpus(File.ReadAllText(argument));
            }
        }

        throw new ArgumentException($"Unknown tokenizer spec '{spec}'. Accepted forms: {AcceptedSpecs}.", nameof(spec));
    }

    private static string RequireFile(string directory, string name)
    {
        var path = Path.Combine(directory, name);
        return File.Exists(path) ? path : throw new FileNotFoundException($"'{directory}' has no {name}.", path);
    }
}
