using System.Text;

namespace EsoLM.Tests.Text;

/// <summary>
/// Writes small SentencePiece model files (the protobuf <c>ModelProto</c>: pieces, trainer spec, normalizer spec) so the
/// SentencePiece path is tested without downloading a model.
/// </summary>
internal static class SentencePieceModels
{
    /// <summary>A Unigram model: <c>&lt;unk&gt;</c>=0, <c>&lt;s&gt;</c>=1, <c>&lt;/s&gt;</c>=2, then <paramref name="pieces"/> (earlier = higher score).</summary>
    public static byte[] Unigram(IReadOnlyList<string> pieces)
    {
        using var model = new MemoryStream();
        Piece(model, "<unk>", 0, type: 2);
        Piece(model, "<s>", 0, type: 3);
        Piece(model, "</s>", 0, type: 3);
        for (var i = 0; i < pieces.Count; i++)
        {
            Piece(model, pieces[i], -(i + 1), type: 1);
        }

        using var trainer = new MemoryStream();
        Varint(trainer, 3, 1); // model_type = UNIGRAM
        Varint(trainer, 4, pieces.Count + 3); // vocab_size
        Varint(trainer, 40, 0); // unk_id
        Varint(trainer, 41, 1); // bos_id
        Varint(trainer, 42, 2); // eos_id
        Varint(trainer, 43, -1); // pad_id (none)
        Bytes(model, 2, trainer.ToArray());

        using var normalizer = new MemoryStream();
        Bytes(normalizer, 1, Encoding.UTF8.GetBytes("identity"));
        Varint(normalizer, 3, 1); // add_dummy_prefix
        Varint(normalizer, 4, 1); // remove_extra_whitespaces
        Varint(normalizer, 5, 1); // escape_whitespaces
        Bytes(model, 3, normalizer.ToArray());
        return model.ToArray();
    }

    private static void Piece(Stream model, string piece, float score, int type)
    {
        using var entry = new MemoryStream();
        Bytes(entry, 1, Encoding.UTF8.GetBytes(piece));
        Key(entry, 2, 5);
        entry.Write(BitConverter.GetBytes(score));
        Varint(entry, 3, type);
        Bytes(model, 1, entry.ToArray());
    }

    private static void Key(Stream s, int field, int wireType) => Raw(s, (ulong)((field << 3) | wireType));

    private static void Raw(Stream s, ulong value)
    {
        while (value >= 0x80)
        {
            s.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        s.WriteByte((byte)value);
    }

    private static void Varint(Stream s, int field, long value)
    {
        Key(s, field, 0);
        Raw(s, unchecked((ulong)value));
    }

    private static void Bytes(Stream s, int field, byte[] bytes)
    {
        Key(s, field, 2);
        Raw(s, (ulong)bytes.Length);
        s.Write(bytes);
    }
}
