using EsoLM.Masks;
using EsoLM.Modeling;

namespace EsoLM.Tests.Modeling;

public sealed class BadInputTests
{
    private static readonly ModelConfig Config = CachedForwardTests.TinyConfig();

    [Fact]
    public void Token_outside_vocabulary_is_named()
    {
        var model = new DiffusionTransformer(ModelParameters.CreateRandom(Config, 1));
        var session = new ModelSession(model, 1, 4);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
            session.Diffusion(EsoLmVariant.B, 1, 4, [1, 2, Config.VocabSize, 3], [0, 1, 2, 3], [4], new float[4 * Config.VocabSize]));
        Assert.Contains($"Token id {Config.VocabSize}", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"[0, {Config.VocabSize})", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Window_longer_than_the_context_is_rejected()
    {
        var model = new DiffusionTransformer(ModelParameters.CreateRandom(Config, 1));
        var session = new ModelSession(model, 1, 4);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
            session.CachedStep(1, 2, 3, [1, 2, 3], [0, 1, 2], 0, new float[3 * Config.VocabSize]));
        Assert.Contains("exceeds the cache capacity 4", ex.Message, StringComparison.Ordinal);

        var longSession = new ModelSession(model, 1, Config.ContextLength + 4);
        var tokens = new int[Config.ContextLength + 1];
        var positions = Enumerable.Range(0, Config.ContextLength + 1).ToArray();
        var pex = Assert.Throws<ArgumentOutOfRangeException>(() =>
            longSession.Diffusion(EsoLmVariant.B, 1, tokens.Length, tokens, positions, [0], new float[tokens.Length * Config.VocabSize]));
        Assert.Contains($"outside the context [0, {Config.ContextLength})", pex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(23)]
    [InlineData(100)]
    public void Mask_id_outside_vocabulary_is_rejected(int mask)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ModelParameters.CreateZero(Config with { MaskTokenId = mask }));
        Assert.Contains("MaskTokenId", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Tensor_shape_that_disagrees_with_config_is_rejected()
    {
        var good = ModelParameters.CreateRandom(Config, 1);
        var tensors = good.Tensors.Select(t => (t.Name, t.Shape, t.Data)).ToList();
        tensors[1] = (tensors[1].Name, (IReadOnlyList<int>)[tensors[1].Shape[0] + 1, tensors[1].Shape[1]], tensors[1].Data);
        var ex = Assert.Throws<ArgumentException>(() => ModelParameters.FromNamedTensors(Config, tensors));
        Assert.Contains(tensors[1].Name, ex.Message, StringComparison.Ordinal);
        Assert.Contains("the config requires", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_and_unknown_tensors_are_named()
    {
        var good = ModelParameters.CreateRandom(Config, 1);
        var tensors = good.Tensors.Select(t => (t.Name, t.Shape, t.Data)).ToList();
        var missing = tensors[^1].Name;
        tensors.RemoveAt(tensors.Count - 1);
        var ex = Assert.Throws<ArgumentException>(() => ModelParameters.FromNamedTensors(Config, tensors));
        Assert.Contains(missing, ex.Message, StringComparison.Ordinal);

        tensors.Add(("backbone.blocks.9.norm1.weight", [32], new float[32]));
        var ex2 = Assert.Throws<ArgumentException>(() => ModelParameters.FromNamedTensors(Config, tensors));
        Assert.Contains("blocks.9.norm1.weight", ex2.Message, StringComparison.Ordinal);
    }
}
