using EsoLM.Extensions.AI;
using EsoLM.Hosting;
using EsoLM.Tests.DependencyInjection;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace EsoLM.Tests.ChatClient;

public sealed class EsoLmChatClientTests
{
    private static readonly EsoLmModel Model = TinyModels.ByteModel();

    private static EsoLmChatClient Client() => new(Model, new EsoLmOptions { Steps = 4 });

    private static ChatOptions Options(long seed) => new() { Seed = seed, MaxOutputTokens = 10, Temperature = 0.9f, TopP = 0.95f, TopK = 40 };

    private static readonly ChatMessage[] Hi = [new(ChatRole.User, "hi")];

    [Fact]
    public async Task Sixteen_concurrent_requests_equal_the_same_requests_run_one_after_another()
    {
        using var client = Client();
        var sequential = new List<string>();
        for (int i = 0; i < 16; i++)
        {
            sequential.Add((await client.GetResponseAsync(Hi, Options(100 + i))).Text);
        }

        var concurrent = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(async () => (await client.GetResponseAsync(Hi, Options(100 + i))).Text)));

        Assert.Equal(sequential, concurrent);
        Assert.True(sequential.Distinct().Count() > 1, "distinct seeds should give different texts");
    }

    [Fact]
    public async Task Streaming_is_append_only_and_matches_the_response_with_usage_and_finish_reason()
    {
        using var client = Client();
        var options = Options(5).WithEsoLmSteps(3).WithEsoLmAlphaEval(0.5).WithEsoLmSampler("esolm");
        var before = options.Clone();
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in client.GetStreamingResponseAsync(Hi, options))
        {
            updates.Add(u);
        }

        var response = await client.GetResponseAsync(Hi, options);
        Assert.Equal(response.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.NotNull(response.FinishReason);
        Assert.NotNull(response.Usage);
        Assert.Equal(20, response.Usage!.InputTokenCount); // "user: hi\nassistant: " in bytes
        Assert.Equal(response.Usage.InputTokenCount + response.Usage.OutputTokenCount, response.Usage.TotalTokenCount);
        Assert.Single(response.Messages);
        Assert.Equal(before.AdditionalProperties!.Count, options.AdditionalProperties!.Count); // caller options untouched
        Assert.Equal(before.Seed, options.Seed);
    }

    [Fact]
    public async Task Length_and_stop_sequences_set_the_finish_reason()
    {
        using var client = new EsoLmChatClient(Model, new EsoLmOptions { Greedy = true });
        var full = await client.GetResponseAsync(Hi, new ChatOptions { MaxOutputTokens = 8, Seed = 1 });
        Assert.True(full.FinishReason == ChatFinishReason.Length || full.FinishReason == ChatFinishReason.Stop);
        if (full.Text.Length >= 3)
        {
            var stop = full.Text.Substring(1, 2);
            var cut = await client.GetResponseAsync(Hi, new ChatOptions { MaxOutputTokens = 8, Seed = 1, StopSequences = [stop] });
            Assert.Equal(ChatFinishReason.Stop, cut.FinishReason);
            Assert.Equal(full.Text[..full.Text.IndexOf(stop, StringComparison.Ordinal)], cut.Text);
        }
    }

    [Fact]
    public async Task Bad_input_gets_clear_exceptions()
    {
        using var client = Client();
        var noUser = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync([new(ChatRole.System, "be nice")]));
        Assert.Contains("user message", noUser.Message, StringComparison.Ordinal);
        var tooLong = await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync(Hi, new ChatOptions { MaxOutputTokens = 1000 }));
        Assert.Contains("context", tooLong.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => client.GetResponseAsync(Hi, new ChatOptions { ModelId = "gpt-9" }));
        Assert.Throws<ArgumentException>(() => client.GetStreamingResponseAsync(Hi, new ChatOptions { MaxOutputTokens = 1000 })); // eager
        await Assert.ThrowsAsync<KeyNotFoundException>(() => client.GetResponseAsync(Hi, new ChatOptions().WithEsoLmSampler("beam")));
    }

    [Fact]
    public async Task Cancellation_stops_generation()
    {
        using var client = Client();
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.GetResponseAsync(Hi, Options(1), cts.Token));
    }

    [Fact]
    public void GetService_returns_metadata_and_null_for_keys()
    {
        using var client = Client();
        var metadata = client.GetService<ChatClientMetadata>();
        Assert.Equal(("esolm", "esolm"), (metadata!.ProviderName, metadata.DefaultModelId));
        Assert.Null(client.GetService(typeof(ChatClientMetadata), "key"));
        Assert.Same(client, client.GetService<IChatClient>());
        Assert.Same(Model, client.GetService<EsoLmModel>());
    }

    [Fact]
    public async Task Disposing_while_requests_run_does_not_corrupt_them()
    {
        var expected = new List<string>();
        using (var reference = Client())
        {
            for (int i = 0; i < 6; i++)
            {
                expected.Add((await reference.GetResponseAsync(Hi, Options(i))).Text);
            }
        }

        var client = Client();
        var running = Enumerable.Range(0, 6).Select(i => Task.Run(async () =>
        {
            var sb = new System.Text.StringBuilder();
            await foreach (var u in client.GetStreamingResponseAsync(Hi, Options(i)))
            {
                sb.Append(u.Text);
            }

            return sb.ToString();
        })).ToArray();
        client.Dispose();
        var results = new List<string?>();
        foreach (var t in running)
        {
            try
            {
                results.Add(await t);
            }
            catch (ObjectDisposedException)
            {
                results.Add(null); // started after Dispose: refused cleanly
            }
        }

        for (int i = 0; i < 6; i++)
        {
            if (results[i] is { } text)
            {
                Assert.Equal(expected[i], text);
            }
        }

        Assert.Throws<ObjectDisposedException>(() => client.GetStreamingResponseAsync(Hi));
    }

    [Fact]
    public async Task AddChatClient_registers_the_client_from_the_builder()
    {
        var services = new ServiceCollection();
        services.AddEsoLm(o => o.Steps = 2).UseModel(Model).AddChatClient(o => o.ModelId = "tiny");
        services.AddEsoLm().AddChatClient();
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });
        var client = provider.GetRequiredService<IChatClient>();
        Assert.Same(provider.GetRequiredService<EsoLmChatClient>(), client);
        Assert.Equal("tiny", client.GetService<ChatClientMetadata>()!.DefaultModelId);
        var response = await client.GetResponseAsync(Hi, new ChatOptions { Seed = 2, MaxOutputTokens = 4, ModelId = "tiny" });
        Assert.Equal("tiny", response.ModelId);
    }
}
