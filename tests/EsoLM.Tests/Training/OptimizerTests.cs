using EsoLM.Modeling;
using EsoLM.Tests.Modeling;
using EsoLM.Training;

namespace EsoLM.Tests.Training;

public sealed class OptimizerTests
{
    [Fact]
    public void AdamW_follows_the_torch_formula()
    {
        var config = CachedForwardTests.TinyConfig();
        var p = ModelParameters.CreateRandom(config, 1, 0.5f);
        var g = ModelParameters.CreateRandom(config, 2, 0.5f);
        var opt = new AdamW(config, new AdamWOptions { WeightDecay = 0.1 });
        var t = p.Tensors[3];
        double x = t.Data[7], m = 0, v = 0;
        for (int step = 1; step <= 3; step++)
        {
            double grad = g.Tensors[3].Data[7], lr = 0.01 * step;
            opt.Step(p, g, lr);
            // torch.optim.AdamW: p *= 1 − lr·wd; m, v moments; p −= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps).
            x *= 1 - (lr * 0.1);
            m = (0.9 * m) + (0.1 * grad);
            v = (0.999 * v) + (0.001 * grad * grad);
            x -= lr / (1 - Math.Pow(0.9, step)) * m / ((Math.Sqrt(v) / Math.Sqrt(1 - Math.Pow(0.999, step))) + 1e-8);
            Assert.Equal(x, t.Data[7], 5e-6);
        }
    }

    [Fact]
    public void Ema_uses_the_reference_warm_up()
    {
        var config = CachedForwardTests.TinyConfig();
        var p = ModelParameters.CreateZero(config);
        var ema = new ExponentialMovingAverage(p, 0.9999);
        double shadow = 0;
        for (int n = 1; n <= 5; n++)
        {
            p.Tensors[0].Data[0] = n;
            ema.Update(p);
            double d = Math.Min(0.9999, (1.0 + n) / (10.0 + n));
            shadow -= (1 - d) * (shadow - n);
            Assert.Equal(shadow, ema.Shadow.Tensors[0].Data[0], 5);
        }
    }

    [Fact]
    public void Learning_rate_warms_up_linearly_then_holds_or_decays()
    {
        var constant = new LearningRateSchedule(1e-3, 10, 100);
        Assert.Equal(1e-4, constant.At(0), 12);
        Assert.Equal(1e-3, constant.At(9), 12);
        Assert.Equal(1e-3, constant.At(99), 12);
        var cosine = new LearningRateSchedule(1e-3, 10, 110, LearningRateDecay.Cosine, 0.1);
        Assert.Equal(1e-3, cosine.At(10), 12);
        Assert.Equal(0.55e-3, cosine.At(60), 9);
        Assert.Equal(1e-4, cosine.At(110), 12);
    }
}
