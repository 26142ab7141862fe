using EsoLM.Extensions.AI;
using EsoLM.Hosting;
using EsoLM.IO;
using EsoLM.Modeling;
using EsoLM.Server;
using EsoLM.Server.Serving;
using EsoLM.Text;
using Microsoft.AspNetCore.Builder;

namespace EsoLM.Server.Tests;

/// <summary>Tiny random byte-tokenizer models written to a temp folder, and servers started on a free loopback port.</summary>
internal static class ServerFixture
{
    public static string TinyModel(string dir, int context = 128, int hidden = 32, int layers = 1, ulong seed = 3)
    {
        var tokenizer = new ByteTokenizer();
        var config = new ModelConfig
        {
            VocabSize = tokenizer.VocabularySize + 1, MaskTokenId = tokenizer.VocabularySize, HiddenSize = hidden, Heads = 2, Layers = layers,
            CondDim = 16, ContextLength = context,
        };
        var path = Path.Combine(dir, $"tiny-{Guid.NewGuid():N}.safetensors");
        ModelFile.Save(path, ModelParameters.CreateRandom(config, seed, 0.5f), tokenizer.Describe());
        return path;
    }

    public static async Task<(WebApplication App, Uri BaseAddress)> StartAsync(string modelPath, EsoLmServerOptions? options = null, string modelId = "tiny")
    {
        var app = EsoLmServerApp.Build(new EsoLmServeSettings
        {
            ModelPath = modelPath,
            Urls = "http://127.0.0.1:0",
            ModelId = modelId,
            Threads = 1,
            Server = options ?? new EsoLmServerOptions(),
        });
        await app.StartAsync();
        return (app, new Uri(app.Urls.First()));
    }

    /// <summary>The library's own chat client over the same file: what a served request must equal.</summary>
    public static EsoLmChatClient Library(string modelPath, string modelId = "tiny") =>
        new(EsoLmModel.Load(modelPath, new Tensors.ComputeContext(1)), null, new EsoLmChatClientOptions { ModelId = modelId });
}
