using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using EsoLM.Hosting;
using EsoLM.IO;
using EsoLM.Tensors;

namespace EsoLM.Pipeline;

/// <summary>
/// A stateful generation session for one caller (ML.NET's prediction-engine counterpart): each call uses the next seed,
/// so a session replays identically from the same first seed. Not thread-safe: concurrent calls throw.
/// </summary>
public sealed class EsoLmSession
{
    private readonly EsoLmGenerator _generator;
    private int _busy;

    internal EsoLmSession(EsoLmGenerator generator, ulong seed)
    {
        _generator = generator;
        NextSeed = seed;
    }

    /// <summary>The seed the next call uses.</summary>
    public ulong NextSeed { get; private set; }

    /// <summary>Completed calls.</summary>
    public int Turns { get; private set; }

    /// <summary>Generates a completion of <paramref name="prompt"/>.</summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="maxNewTokens">Tokens to generate; null = the defaults.</param>
    /// <param name="cancellationToken">Checked every step.</param>
    /// <returns>The result.</returns>
    public GenerationResult Generate(string prompt, int? maxNewTokens = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        Enter();
        try
        {
            var result = _generator.Generate(new GenerationRequest(prompt) { Seed = NextSeed, MaxNewTokens = maxNewTokens }, cancellationToken);
            Advance();
            return result;
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>Streams a completion of <paramref name="prompt"/> (append-only text).</summary>
    /// <param name="prompt">The prompt.</param>
    /// <param name="maxNewTokens">Tokens to generate; null = the defaults.</param>
    /// <param name="cancellationToken">Checked every step.</param>
    /// <returns>The updates; the last carries the result.</returns>
    public IAsyncEnumerable<GenerationUpdate> GenerateStreamingAsync(string prompt, int? maxNewTokens = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var updates = _generator.GenerateStreamingAsync(new GenerationRequest(prompt) { Seed = NextSeed, MaxNewTokens = maxNewTokens }, cancellationToken);
        return StreamIterator(updates, cancellationToken);
    }

    private async IAsyncEnumerable<GenerationUpdate> StreamIterator(IAsyncEnumerable<GenerationUpdate> updates,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Enter();
        try
        {
            await foreach (var update in updates.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                if (update.Result is not null)
                {
                    Advance();
                }

                yield return update;
            }
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private void Enter()
    {
        if (Interlocked.Exchange(ref _busy, 1) != 0)
        {
            throw new InvalidOperationException("An EsoLmSession runs one call at a time; create one session per concurrent caller.");
        }
    }

    private void Advance()
    {
        NextSeed = unchecked(NextSeed + 1);
        Turns++;
    }
}
