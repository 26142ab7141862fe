using EsoLM.Backends;

namespace EsoLM.Modeling;

/// <summary>
/// Scratch buffers of the forward pass, owned by one session (not thread-safe). They grow to the largest batch seen and
/// are then reused, so steady-state decoding allocates nothing.
/// </summary>
internal sealed class ForwardWorkspace : IForwardWorkspace
{
    private readonly ModelConfig _config;

    internal ForwardWorkspace(ModelConfig config) => _config = config;

    internal float[] Hidden { get; private set; } = [];

    internal float[] Normed { get; private set; } = [];

    internal float[] Qkv { get; private set; } = [];

    internal float[] AttentionOut { get; private set; } = [];

    internal float[] Mlp { get; private set; } = [];

    internal float[] Branch { get; private set; } = [];

    internal int Rows { get; private set; }

    /// <inheritdoc />
    public long SizeInBytes => ((long)Hidden.Length + Normed.Length + Qkv.Length + AttentionOut.Length + Mlp.Length + Branch.Length) * sizeof(float);

    internal void Ensure(int rows)
    {
        if (rows <= Rows)
        {
            return;
        }

        int d = _config.HiddenSize;
        Rows = Math.Max(rows, Rows * 3 / 2);
        Hidden = new float[Rows * d];
        Normed = new float[Rows * d];
        Qkv = new float[Rows * 3 * d];
        AttentionOut = new float[Rows * d];
        Mlp = new float[Rows * _config.MlpHidden];
        Branch = new float[Rows * d];
    }
}
