// Encoding speed: the hand-written GPT-2 BPE that EsoLM.Net had until the switch to ML.Tokenizers (EsoLM.Text.Gpt2BpeTokenizer
// at commit e95685a) against Microsoft.ML.Tokenizers 3.0.0 built the way TokenizerFactory builds it (BpeTokenizer from
// encoder.json + vocab.bpe with the GPT-2 pattern; Tiktoken gpt2 from the data package). Same process, same text (the
// given Markdown files, repeated to 4 MB), five interleaved rounds; the best round per tokenizer.
// Usage: scripts/tokenizer-speed.sh (it checks out the old code and runs this).
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
var dir = args[0];
var sb = new StringBuilder();
foreach (var f in args.Skip(1)) sb.Append(File.ReadAllText(f)).Append('\n');
var basis = sb.ToString();
while (sb.Length < 4_000_000) sb.Append(basis);
var text = sb.ToString();
double mb = Encoding.UTF8.GetByteCount(text) / 1e6;
var old = EsoLM.Text.Gpt2BpeTokenizer.Load(Path.Combine(dir, "encoder.json"), Path.Combine(dir, "vocab.bpe"));
var regex = new Regex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", RegexOptions.Compiled);
var vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(Path.Combine(dir, "encoder.json")))!;
var merges = File.ReadAllLines(Path.Combine(dir, "vocab.bpe")).Skip(1).Where(l => l.Length > 0).ToList();
var specials = new Dictionary<string, int> { ["<|endoftext|>"] = 50256 };
var bpeText = BpeTokenizer.Create(new BpeOptions(vocab) { Merges = merges, ByteLevel = true, PreTokenizer = new RegexPreTokenizer(regex, null) });
var bpeSpecial = BpeTokenizer.Create(new BpeOptions(vocab) { Merges = merges, ByteLevel = true, SpecialTokens = specials, PreTokenizer = new RegexPreTokenizer(regex, specials) });
var tik = TiktokenTokenizer.CreateForModel("gpt2");
var cases = new (string Name, Func<string, int> Run)[]
{
    ("old Gpt2BpeTokenizer, specials as text", t => old.Encode(t, false).Length),
    ("old Gpt2BpeTokenizer, specials allowed", t => old.Encode(t, true).Length),
    ("ML.Tokenizers BpeTokenizer, specials as text", t => bpeText.EncodeToIds(t).Count),
    ("ML.Tokenizers BpeTokenizer, specials allowed", t => bpeSpecial.EncodeToIds(t).Count),
    ("ML.Tokenizers TiktokenTokenizer gpt2", t => tik.EncodeToIds(t).Count),
    ("(pre-tokenization only: GPT-2 regex via RegexPreTokenizer)", t => new RegexPreTokenizer(regex, null).PreTokenize(t).Count()),
};
// Cross-check: all five give the same ids on this text (it holds no special-token text).
var reference = old.Encode(text, false);
var refSpecial = old.Encode(text, true);
Console.WriteLine($"specials allowed, same ids: bpe+specials {bpeSpecial.EncodeToIds(text).SequenceEqual(refSpecial)}, tiktoken {tik.EncodeToIds(text).SequenceEqual(refSpecial)}");
Console.WriteLine($"specials as text, same ids: bpe {bpeText.EncodeToIds(text).SequenceEqual(reference)}, bpe+specials {bpeSpecial.EncodeToIds(text).SequenceEqual(reference)}, tiktoken {tik.EncodeToIds(text).SequenceEqual(reference)}; {reference.Length} tokens, {mb:F2} MB");
var best = new double[cases.Length];
for (var round = 0; round < 5; round++)
    for (var i = 0; i < cases.Length; i++)
    {
        var sw = Stopwatch.StartNew();
        cases[i].Run(text);
        best[i] = Math.Max(best[i], mb / sw.Elapsed.TotalSeconds);
    }
for (var i = 0; i < cases.Length; i++) Console.WriteLine($"| {cases[i].Name} | {best[i]:F2} MB/s | {best[i] / best[0]:F2}x |");
