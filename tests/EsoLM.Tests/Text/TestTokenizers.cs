using System.Text.Json;
using EsoLM.Tests.Support;
using EsoLM.Text;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Tests.Text;

/// <summary>Tokenizers and golden data shared by the text tests (loaded once; tokenizers are thread-safe).</summary>
internal static class TestTokenizers
{
    private static readonly Lazy<Tokenizer> Gpt2Lazy = new(() => TokenizerFactory.FromSpec("gpt2:" + SharedData.Gpt2Vocabulary));
    private static readonly Lazy<Tokenizer> Gpt2SpecialLazy = new(() => TokenizerFactory.FromSpec("gpt2:" + SharedData.Gpt2Vocabulary, allowSpecial: true));
    private static readonly Lazy<Tokenizer> TiktokenGpt2Lazy = new(() => TokenizerFactory.FromSpec("tiktoken:gpt2", allowSpecial: true));
    private static readonly Lazy<Tokenizer> TiktokenGpt2AsTextLazy = new(() => TokenizerFactory.FromSpec("tiktoken:gpt2"));

    private static readonly Lazy<IReadOnlyList<GoldenEntry>> GoldenLazy = new(LoadGolden);

    /// <summary>GPT-2 (ML.Tokenizers BPE from encoder.json + vocab.bpe), special-token text encoded as text.</summary>
    public static Tokenizer Gpt2 => Gpt2Lazy.Value;

    /// <summary>GPT-2 (ML.Tokenizers BPE), <c>&lt;|endoftext|&gt;</c> encoded as 50256.</summary>
    public static Tokenizer Gpt2Special => Gpt2SpecialLazy.Value;

    /// <summary>GPT-2 from the Tiktoken data package, special tokens allowed (ML.Tokenizers' own mode).</summary>
    public static Tokenizer TiktokenGpt2 => TiktokenGpt2Lazy.Value;

    /// <summary>GPT-2 from the Tiktoken data, special-token text encoded as text.</summary>
    public static Tokenizer TiktokenGpt2AsText => TiktokenGpt2AsTextLazy.Value;

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
