using System.Globalization;
using System.Text;

namespace EsoLM.Text;

/// <summary>
/// Hand-written scanner equivalent to the GPT-2 / tiktoken pre-tokenisation pattern
/// <c>'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+</c> evaluated on code points, with
/// <c>\s</c> as in JavaScript (js-tiktoken is the reference): TAB..CR, the Zs category, U+2028, U+2029 and U+FEFF.
/// A lone surrogate is one code point of the "other" class.
/// </summary>
internal static class Gpt2PreTokenizer
{
    internal const byte Letter = 0;
    internal const byte Number = 1;
    internal const byte Space = 2;
    internal const byte Other = 3;

    private static readonly byte[] AsciiClasses = BuildAsciiClasses();

    /// <summary>Returns the length in UTF-16 units of the piece that starts at <paramref name="start"/> (which must be inside the text).</summary>
    public static int NextPieceLength(ReadOnlySpan<char> text, int start)
    {
        var first = text[start];

        // '(?:[sdmt]|ll|ve|re)
        if (first == '\'' && start + 1 < text.Length)
        {
            var a = text[start + 1];
            if (a is 's' or 'd' or 'm' or 't')
            {
                return 2;
            }

            if (start + 2 < text.Length)
            {
                var b = text[start + 2];
                if ((a == 'l' && b == 'l') || (a == 'v' && b == 'e') || (a == 'r' && b == 'e'))
                {
                    return 3;
                }
            }
        }

        var position = start;
        var cls = Classify(text, position, out var width);

        // The optional leading space of " ?\p{L}+", " ?\p{N}+" and " ?[^\s\p{L}\p{N}]+".
        if (first == ' ' && start + 1 < text.Length)
        {
            var next = Classify(text, start + 1, out var nextWidth);
            if (next != Space)
            {
                position = start + 1;
                cls = next;
                width = nextWidth;
            }
        }

        if (cls != Space)
        {
            position += width;
            while (position < text.Length && Classify(text, position, out width) == cls)
            {
                position += width;
            }

            return position - start;
        }

        // \s+(?!\S) | \s+ : a whitespace run keeps its last character for the next piece when a non-space follows.
        var end = start;
        var lastStart = start;
        var count = 0;
        while (end < text.Length && Classify(text, end, out width) == Space)
        {
            lastStart = end;
            end += width;
            count++;
        }

        if (end == text.Length || count == 1)
        {
            return end - start;
        }

        return lastStart - start;
    }

    /// <summary>Classifies the code point at <paramref name="index"/> as letter, number, space or other.</summary>
    internal static byte Classify(ReadOnlySpan<char> text, int index, out int width)
    {
        var c = text[index];
        if (c < 128)
        {
            width = 1;
            return AsciiClasses[c];
        }

        if (!char.IsSurrogate(c))
        {
            width = 1;
            return ClassifyNonAscii(c, CharUnicodeInfo.GetUnicodeCategory(c));
        }

        if (Rune.DecodeFromUtf16(text[index..], out var rune, out width) != System.Buffers.OperationStatus.Done)
        {
            width = 1;
            return Other;
        }

        return ClassifyNonAscii(rune.Value, Rune.GetUnicodeCategory(rune));
    }

    private static byte ClassifyNonAscii(int value, UnicodeCategory category)
    {
        switch (category)
        {
            case UnicodeCategory.UppercaseLetter:
            case UnicodeCategory.LowercaseLetter:
            case UnicodeCategory.TitlecaseLetter:
            case UnicodeCategory.ModifierLetter:
            case UnicodeCategory.OtherLetter:
                return Letter;
            case UnicodeCategory.DecimalDigitNumber:
            case UnicodeCategory.LetterNumber:
            case UnicodeCategory.OtherNumber:
                return Number;
            case UnicodeCategory.SpaceSeparator:
                return Space;
            default:
                return value is 0x2028 or 0x2029 or 0xFEFF ? Space : Other;
        }
    }

    private static byte[] BuildAsciiClasses()
    {
        var classes = new byte[128];
        for (var c = 0; c < 128; c++)
        {
            classes[c] = c switch
            {
                >= 'a' and <= 'z' or >= 'A' and <= 'Z' => Letter,
                >= '0' and <= '9' => Number,
                >= 0x09 and <= 0x0D or ' ' => Space,
                _ => Other,
            };
        }

        return classes;
    }
}
