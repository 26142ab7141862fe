using System.Text.Json;
using EsoLM.Tests.Support;
using EsoLM.Text;

namespace EsoLM.Tests.Text;

/// <summary>Tokenizers and golden data shared by the text tests (loaded once; tokenizers are thread-safe).</summary>
internal static class TestTokenizers
{
    private static readonly Lazy<Gpt2BpeTokenizer> Gpt2Lazy = new(() => Gpt2BpeTokenizer.Load(
        Path.Combine(SharedData.Gpt2Vocabulary, "encoder.json"),
        Path.Combine(SharedData.Gpt2Vocabulary, "vocab.bpe")));

    private static readonly Lazy<IReadOnlyList<GoldenEntry>> GoldenLazy = new(LoadGolden);

    public static Gpt2BpeTokenizer Gpt2 => Gpt2Lazy.Value;

    public static IReadOnlyList<GoldenEntry> Golden => GoldenLazy.Value;

    private static List<GoldenEntry> LoadGolden()
    {
        using var stream = File.OpenRead(Path.Combine(SharedData.Golden, "gpt2-tokenizer.json"));
        using var document = JsonDocument.Parse(stream);
        return
        [
            .. document.RootElement.EnumerateArray().Select(e => new GoldenEntry(
                e.GetProperty("text").GetString()!,
                [.. e.GetProperty("ids_special_allowed").EnumerateArray().Select(x => x.GetInt32())],
                [.. e.GetProperty("ids_special_as_text").EnumerateArray().Select(x => x.GetInt32())])),
        ];
    }
}

internal sealed record GoldenEntry(string Text, int[] IdsSpecialAllowed, int[] IdsSpecialAsText);
