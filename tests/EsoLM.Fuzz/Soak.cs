using System.Text.Json.Nodes;
using EsoLM.Extensions.AI;
using EsoLM.Hosting;
using EsoLM.Modeling;
using EsoLM.Tensors;
using EsoLM.Text;
using Microsoft.Extensions.AI;

namespace EsoLM.Fuzz;

/// <summary>
/// The chat soak: 64 concurrent requests, three rounds, must equal the same requests run one by one; then many requests
/// with varied settings (each a distinct sampler-pool key) must leave the managed heap flat.
/// </summary>
internal static class Soak
{
    public static void Run(int seed, int requests, Action<string> fail, JsonObject extra)
    {
        var config = new ModelConfig
        {
            VocabSize = 258, MaskTokenId = 257, HiddenSize = 32, Heads = 4, Layers = 2, CondDim = 8, MlpRatio = 2, ContextLength = 40,
            FrequencyEmbeddingSize = 16,
        };
        var model = new EsoLmModel(new EsoLM.Backends.Cpu.CpuBackend(new ComputeContext(1)).Load(ModelParameters.CreateRandom(config, (ulong)seed, 0.3f)), new ByteTokenizer());
        using var client = new EsoLmChatClient(model, new EsoLmOptions { MaxNewTokens = 8 });
        ChatMessage[] hi = [new ChatMessage(ChatRole.User, "hi")];

        // 1. 64 concurrent requests × 3 rounds equal the sequential results.
        var options = Enumerable.Range(0, 64).Select(i => Varied(seed, i)).ToArray();
        var sequential = options.Select(o => client.GetResponseAsync(hi, o).GetAwaiter().GetResult().Text).ToArray();
        int mismatches = 0;
        for (int round = 0; round < 3; round++)
        {
            var concurrent = Task.WhenAll(options.Select(o => Task.Run(() => client.GetResponseAsync(hi, o)))).GetAwaiter().GetResult();
            for (int i = 0; i < options.Length; i++)
            {
                if (concurrent[i].Text != sequential[i])
                {
                    mismatches++;
                    fail($"round {round}, request {i}: concurrent '{concurrent[i].Text}' ≠ sequential '{sequential[i]}'");
                }
            }
        }

        extra["concurrent_requests"] = 64 * 3;
        extra["concurrent_mismatches"] = mismatches;

        // 2. Many requests with varied settings: the heap after all of them is within a bound of the heap after the first fifth.
        long warm = 0;
        for (int i = 0; i < requests; i++)
        {
            _ = client.GetResponseAsync(hi, Varied(seed, 1000 + i)).GetAwaiter().GetResult();
            if (i == requests / 5)
            {
                warm = Heap();
            }
        }

        long end = Heap();
        long growth = end - warm;
        extra["varied_requests"] = requests;
        extra["heap_after_first_fifth_bytes"] = warm;
        extra["heap_at_end_bytes"] = end;
        extra["heap_growth_bytes"] = growth;
        extra["pooled_settings_bound"] = new EsoLmOptions().MaxPooledSettings;
        if (growth > 8L << 20)
        {
            fail($"the managed heap grew by {growth / (1 << 20)} MiB over {requests - (requests / 5)} requests (bound 8 MiB)");
        }
    }

    /// <summary>Request settings that differ from request to request (each a distinct pool key).</summary>
    private static ChatOptions Varied(int seed, int i)
    {
        var o = new ChatOptions
        {
            Seed = seed + i,
            TopP = 0.5f + ((i % 997) / 2000f),
            Temperature = (i % 5) == 0 ? 0 : 0.5f + ((i % 7) / 10f),
            TopK = i % 3 == 0 ? 0 : 5 + (i % 11),
            MaxOutputTokens = 2 + (i % 7),
        };
        if (o.Temperature == 0)
        {
            o.TopP = null;
            o.TopK = null;
        }

        string[] samplers = ["esolm", "mdlm", "bd3", "ar"];
        var sampler = samplers[i % samplers.Length];
        o.WithEsoLmSampler(sampler);
        if (sampler is "esolm" or "mdlm" or "bd3")
        {
            o.WithEsoLmSteps(1 + (i % 9));
        }

        if (sampler == "esolm")
        {
            o.WithEsoLmAlphaEval((i % 4) / 3.0);
        }

        return o;
    }

    private static long Heap()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
