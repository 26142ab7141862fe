using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EsoLM.Text;

namespace EsoLM.Cli.Commands;

/// <summary><c>esolm tokenize --tokenizer SPEC --text-file F [--allow-special]</c>: prints the ids as one JSON array.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var tokenizerOption = new Option<string>("--tokenizer")
        {
            Description = "Tokenizer spec: " + TokenizerFactory.AcceptedSpecs + "; or 'char' / 'word' (built from the text file itself).",
            Required = true,
        };
        var textFileOption = new Option<string>("--text-file")
        {
            Description = "UTF-8 text file to encode.",
            Required = true,
        };
        var allowSpecialOption = new Option<bool>("--allow-special")
        {
            Description = "Encode special tokens such as <|endoftext|> as their ids instead of as text.",
        };

        var command = new Command("tokenize", "Encode a text file and print the ids as a JSON array.");
        command.Options.Add(tokenizerOption);
        command.Options.Add(textFileOption);
        command.Options.Add(allowSpecialOption);
        command.SetAction(parseResult => Run(
            parseResult.GetValue(tokenizerOption)!,
            parseResult.GetValue(textFileOption)!,
            parseResult.GetValue(allowSpecialOption)));
        return command;
    }

    private static int Run(string spec, string textFile, bool allowSpecial)
    {
        CliFiles.RequireFile(textFile, "--text-file", "Text file");
        var text = File.ReadAllText(textFile, Encoding.UTF8);
        var tokenizer = spec switch
        {
            CharTokenizer.Kind => CharTokenizer.FromCorpus(text, allowSpecialTokens: allowSpecial),
            WordTokenizer.Kind => WordTokenizer.FromCorpus(text, allowSpecialTokens: allowSpecial),
            _ => TokenizerFactory.FromSpec(spec, allowSpecial),
        };
        var ids = tokenizer.Encode(text);
        var json = new StringBuilder((ids.Length * 6) + 2).Append('[');
        for (var i = 0; i < ids.Length; i++)
        {
            json.Append(i == 0 ? string.Empty : ",").Append(ids[i].ToString(CultureInfo.InvariantCulture));
        }

        Console.Out.WriteLine(json.Append(']').ToString());
        Console.Out.Flush();
        return 0;
    }
}
