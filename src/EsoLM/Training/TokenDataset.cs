using EsoLM.Text;
using Microsoft.ML.Tokenizers;

namespace EsoLM.Training;

/// <summary>
/// Fixed-length training rows made the way the reference wraps text (spec §6): every document is tokenized, the
/// tokenizer's end-of-text id is appended, everything is concatenated and cut into rows of <see cref="Length"/> tokens;
/// the remainder is dropped. The last rows are held out for validation. Batches are drawn in an order that depends only on
/// (seed, epoch), so a resumed run sees exactly the data it would have seen.
/// </summary>
public sealed class TokenDataset
{
    private readonly int[] _tokens;
    private int[]? _permutation;
    private long _permutationEpoch = -1;

    private TokenDataset(int[] tokens, int length, int trainRows, int validationRows)
    {
        _tokens = tokens;
        Length = length;
        TrainRows = trainRows;
        ValidationRows = validationRows;
    }

    /// <summary>Row length.</summary>
    public int Length { get; }

    /// <summary>Rows used for training.</summary>
    public int TrainRows { get; }

    /// <summary>Held-out rows.</summary>
    public int ValidationRows { get; }

    /// <summary>Total tokens kept (rows × length).</summary>
    public long TokenCount => (long)(TrainRows + ValidationRows) * Length;

    /// <summary>A fingerprint of the rows (to refuse resuming on different data).</summary>
    public ulong Fingerprint
    {
        get
        {
            ulong h = 1469598103934665603UL;
            foreach (var t in _tokens)
            {
                h = (h ^ (uint)t) * 1099511628211UL;
            }

            return h ^ (ulong)Length;
        }
    }

    /// <summary>Tokenizes documents and cuts them into rows.</summary>
    /// <param name="documents">The texts.</param>
    /// <param name="tokenizer">The tokenizer (its <see cref="TokenizerVocabulary.EndOfTextId"/> separates documents when present).</param>
    /// <param name="length">Row length L.</param>
    /// <param name="validationFraction">Fraction of rows held out (at least one row when there are two or more rows).</param>
    public static TokenDataset FromDocuments(IEnumerable<string> documents, Tokenizer tokenizer, int length, double validationFraction = 0.05)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(tokenizer);
        var all = new List<int>();
        foreach (var doc in documents)
        {
            ArgumentNullException.ThrowIfNull(doc, nameof(documents));
            all.AddRange(tokenizer.Encode(doc));
            if (TokenizerVocabulary.Of(tokenizer).EndOfTextId is { } eos)
            {
                all.Add(eos);
            }
        }

        return FromTokens(all.ToArray(), length, validationFraction);
    }

    /// <summary>Cuts an already-tokenized stream into rows.</summary>
    public static TokenDataset FromTokens(int[] tokens, int length, double validationFraction = 0.05)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        if (!(validationFraction >= 0 && validationFraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "The validation fraction must be in [0, 1).");
        }

        int rows = tokens.Length / length;
        if (rows < 1)
        {
            throw new ArgumentException(
                $"The corpus has {tokens.Length} tokens, fewer than one row of {length}: use more text or a shorter --length.", nameof(tokens));
        }

        int validation = validationFraction > 0 && rows >= 2 ? Math.Max(1, (int)Math.Round(rows * validationFraction)) : 0;
        validation = Math.Min(validation, rows - 1);
        return new TokenDataset(tokens.AsSpan(0, rows * length).ToArray(), length, rows - validation, validation);
    }

    /// <summary>Training row <paramref name="index"/>.</summary>
    public ReadOnlySpan<int> TrainRow(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, TrainRows);
        return _tokens.AsSpan(index * Length, Length);
    }

    /// <summary>Validation row <paramref name="index"/>.</summary>
    public ReadOnlySpan<int> ValidationRow(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, ValidationRows);
        return _tokens.AsSpan((TrainRows + index) * Length, Length);
    }

    /// <summary>
    /// Writes the rows of training batch number <paramref name="step"/> into <paramref name="destination"/> ([batch, Length]):
    /// sample k = step·batch + j is row perm_epoch[k mod rows] with epoch = k / rows and perm a seeded permutation.
    /// </summary>
    public void FillBatch(long step, int batch, ulong seed, Span<int> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        if (destination.Length < batch * Length)
        {
            throw new ArgumentException($"destination needs {batch * Length} entries.", nameof(destination));
        }

        for (int j = 0; j < batch; j++)
        {
            long k = (step * batch) + j;
            long epoch = k / TrainRows;
            int row = Permutation(epoch, seed)[(int)(k % TrainRows)];
            _tokens.AsSpan(row * Length, Length).CopyTo(destination.Slice(j * Length, Length));
        }
    }

    private int[] Permutation(long epoch, ulong seed)
    {
        if (_permutation is not null && _permutationEpoch == epoch)
        {
            return _permutation;
        }

        var p = _permutation ?? new int[TrainRows];
        for (int i = 0; i < p.Length; i++)
        {
            p[i] = i;
        }

        for (int i = p.Length - 1; i > 0; i--)
        {
            int j = (int)(EsoLmObjective.Uniform(seed, epoch, -7, i, 9) * (i + 1));
            (p[i], p[j]) = (p[j], p[i]);
        }

        _permutation = p;
        _permutationEpoch = epoch;
        return p;
    }
}
