using System.Text.Json;
using EsoLM.Schedules;
using EsoLM.Tests.Support;
using EsoLM.Diagnostics;

namespace EsoLM.Tests.Schedules;

public sealed class ScheduleTests
{
    [Fact]
    public void Log_linear_alpha_and_weight_match_the_golden_loss_files()
    {
        // diffusion_B.json records the reference LogLinear α_t, α' and ELBO weight at each row's t, for α0 = 1 and 0.5.
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedData.Reference, "diffusion_B.json")));
        INoiseSchedule s = LogLinearSchedule.Default;
        int checkedValues = 0;
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            var t = ReferenceTensor.Get(c, "t").Values;
            foreach (var (key, alpha0) in new[] { ("loss_alpha0_1", 1.0), ("loss_alpha0_0.5", 0.5) })
            {
                var entry = c.GetProperty(key);
                var alpha = ReferenceTensor.Get(entry, "alpha_t").Values;
                var weight = ReferenceTensor.Get(entry, "weight").Values;
                Assert.Equal(entry.GetProperty("dalpha_t").GetDouble(), s.AlphaDerivative(0.3, alpha0), 6);
                for (int b = 0; b < t.Length; b++)
                {
                    Assert.Equal(alpha[b], s.Alpha((float)t[b], alpha0), 5);
                    Assert.Equal(weight[b], s.ElboWeight((float)t[b], alpha0), 1e-3 * Math.Abs(weight[b]));
                    checkedValues++;
                }
            }
        }

        Assert.True(checkedValues >= 6);
    }

    [Theory]
    [InlineData("log-linear")]
    [InlineData("cosine")]
    public void Derivative_matches_finite_differences_and_shape_is_decreasing(string name)
    {
        INoiseSchedule s = name == "cosine" ? new CosineSchedule() : LogLinearSchedule.Default;
        Assert.Equal(1.0, s.Shape(0), 12);
        Assert.InRange(s.Shape(1), 0, 0.01);
        for (double t = 0.01; t < 1; t += 0.07)
        {
            double fd = (s.Shape(t + 1e-6) - s.Shape(t - 1e-6)) / 2e-6;
            Assert.Equal(fd, s.ShapeDerivative(t), 5);
            Assert.True(s.Shape(t + 0.01) < s.Shape(t));
        }
    }

    [Fact]
    public void Bad_epsilon_is_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new LogLinearSchedule(1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CosineSchedule(-0.1));
    }
}
