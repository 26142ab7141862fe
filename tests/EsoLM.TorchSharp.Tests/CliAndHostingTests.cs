using System.Text.Json;
using EsoLM.Hosting;
using EsoLM.IO;
using EsoLM.Modeling;
using EsoLM.Text;
using Microsoft.Extensions.DependencyInjection;

namespace EsoLM.TorchSharp.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleRedirection
{
    public const string Name = "Console (redirects Console.Out/Error)";
}

/// <summary><c>esolm … --backend torch:cpu</c> in-process, and <c>AddEsoLm().UseTorchSharp()</c>.</summary>
[Collection(ConsoleRedirection.Name)]
public sealed class CliAndHostingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("esolm-torch-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Check_parity_passes_on_torch_cpu()
    {
        var (code, stdout, stderr) = Run("check-parity", "--golden", TrainerAndGoldenTests.GoldenFolder(), "--backend", "torch:cpu", "--json", "--threads", "2");
        Assert.True(code == 0, stderr + stdout);
        using var doc = JsonDocument.Parse(stdout.Trim());
        Assert.True(doc.RootElement.GetProperty("passed").GetBoolean());
        Assert.True(doc.RootElement.GetProperty("max_abs_diff").GetDouble() <= 1e-4);
    }

    [Theory]
    [InlineData("esolm")]
    [InlineData("mdlm")]
    [InlineData("ar")]
    public void Sample_gives_the_same_text_on_cpu_and_torch(string sampler)
    {
        var model = TinyModel();
        string[] Args(string backend) => ["sample", "--model", model, "--sampler", sampler, "--count", "2", "--length", "16", "--prompt", "hi",
            "--seed", "5", "--json", "--steps", "4", "--backend", backend, "--threads", "2", "--allow-variant-mismatch"];
        var (c1, cpu, e1) = Run(Args("cpu"));
        var (c2, torch, e2) = Run(Args("torch:cpu"));
        Assert.True(c1 == 0, e1);
        Assert.True(c2 == 0, e2);
        using var a = JsonDocument.Parse(cpu.Trim());
        using var b = JsonDocument.Parse(torch.Trim());
        Assert.Equal(a.RootElement.GetProperty("samples").ToString(), b.RootElement.GetProperty("samples").ToString());
    }

    [Fact]
    public void Unknown_torch_device_is_one_clear_error_line()
    {
        var (code, stdout, stderr) = Run("check-parity", "--golden", TrainerAndGoldenTests.GoldenFolder(), "--backend", "torch:tpu");
        Assert.Equal(1, code);
        Assert.Equal(string.Empty, stdout);
        Assert.StartsWith("esolm: error: ", stderr, StringComparison.Ordinal);
        Assert.Contains("torch:cuda:N", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void AddEsoLm_UseTorchSharp_loads_the_model_on_torch()
    {
        var path = TinyModel();
        using var sp = new ServiceCollection().AddEsoLm(o => o.ModelPath = path).UseTorchSharp("cpu").Services.BuildServiceProvider();
        var model = sp.GetRequiredService<EsoLmModel>();
        Assert.IsType<TorchNetwork>(model.Transformer);
        Assert.Equal("torch", model.Transformer.Backend.Name);
    }

    private string TinyModel()
    {
        var tokenizer = new ByteTokenizer();
        var config = new ModelConfig
        {
            VocabSize = tokenizer.VocabularySize + 1, MaskTokenId = tokenizer.VocabularySize, HiddenSize = 32, Heads = 2, Layers = 1, CondDim = 16,
            ContextLength = 24,
        };
        var path = Path.Combine(_dir, $"m{Guid.NewGuid():N}.safetensors");
        ModelFile.Save(path, ModelParameters.CreateRandom(config, 3, 0.5f), tokenizer.Describe(),
            new Dictionary<string, string> { ["esolm.objective"] = "{\"alpha0\":0.5,\"variant\":\"B\"}" });
        return path;
    }

    private static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var originalOut = Console.Out;
        var originalError = Console.Error;
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            return (EsoLM.Cli.Program.Run(args), stdout.ToString(), stderr.ToString());
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
        }
    }
}

/// <summary>
/// The load-failure path: this test project has only the CPU libtorch, so CUDA cannot load, exactly the situation of a
/// user without a CUDA libtorch package or driver. The error names the package and the driver, not TorchSharp's text.
/// </summary>
public sealed class LoadFailureTests
{
    [Fact]
    public void Cuda_without_a_cuda_libtorch_fails_with_the_fix()
    {
        var e = Assert.Throws<TorchBackendUnavailableException>(() => new TorchBackend("cuda"));
        Assert.Contains("libtorch-cuda-12.8-", e.Message, StringComparison.Ordinal);
        Assert.Contains("NVIDIA driver", e.Message, StringComparison.Ordinal);
        Assert.False(TorchRuntime.IsAvailable("cuda:1"));
        Assert.True(TorchRuntime.IsAvailable("cpu"));
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:x")]
    [InlineData("cuda:-1")]
    public void Bad_device_names_are_rejected_naming_the_value(string device)
    {
        var e = Assert.Throws<ArgumentException>(() => TorchRuntime.ParseDevice(device));
        Assert.Contains(device, e.Message, StringComparison.Ordinal);
    }
}
