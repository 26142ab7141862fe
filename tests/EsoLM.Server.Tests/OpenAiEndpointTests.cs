using System.ClientModel;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EsoLM.Extensions.AI;
using EsoLM.Server.Serving;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using ChatMessage = OpenAI.Chat.ChatMessage;

namespace EsoLM.Server.Tests;

/// <summary>
/// <c>esolm serve</c>'s endpoints against the standard OpenAI .NET client and plain HTTP: the served text is the library
/// chat client's text for the same seed (streaming too), concurrency gives the sequential results, bad requests get a
/// 400 that names the field, a full queue 429, and a client that goes away stops its generation.
/// </summary>
public sealed class OpenAiEndpointTests : IAsyncLifetime, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("esolm-serve-").FullName;
    private string _model = string.Empty;
    private Microsoft.AspNetCore.Builder.WebApplication? _app;
    private Uri _base = null!;

    public async Task InitializeAsync()
    {
        _model = ServerFixture.TinyModel(_dir);
        (_app, _base) = await ServerFixture.StartAsync(_model);
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private ChatClient OpenAiClient() =>
        new("tiny", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(_base, "/v1") });

    [Theory]
    [InlineData(5, null)]
    [InlineData(11, "ar")]
    [InlineData(12, "mdlm")]
    public async Task OpenAI_client_gets_the_library_text_for_the_same_seed(long seed, string? sampler)
    {
        var messages = new List<ChatMessage> { new SystemChatMessage("be brief"), new UserChatMessage("hello there") };
        var options = new ChatCompletionOptions { Seed = seed, MaxOutputTokenCount = 12, Temperature = 0.9f };
        var library = ServerFixture.Library(_model);
        var libraryOptions = new ChatOptions { Seed = seed, MaxOutputTokens = 12, Temperature = 0.9f };
        if (sampler is not null)
        {
            // The standard client has no field for it: send it as an extra JSON field through plain HTTP instead.
            using var http = new HttpClient { BaseAddress = _base };
            var body = new
            {
                model = "tiny", seed, max_tokens = 12, temperature = 0.9, sampler,
                messages = new object[] { new { role = "system", content = "be brief" }, new { role = "user", content = "hello there" } },
            };
            using var response = await http.PostAsJsonAsync("/v1/chat/completions", body);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            libraryOptions.WithEsoLmSampler(sampler);
            var expectedText = (await library.GetResponseAsync(LibraryMessages(), libraryOptions)).Text;
            Assert.Equal(expectedText, json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
            return;
        }

        var expected = await library.GetResponseAsync(LibraryMessages(), libraryOptions);
        ChatCompletion served = await OpenAiClient().CompleteChatAsync(messages, options);
        Assert.Equal(expected.Text, served.Content[0].Text);
        Assert.Equal(expected.Usage!.OutputTokenCount, served.Usage.OutputTokenCount);
        Assert.Equal(expected.FinishReason == Microsoft.Extensions.AI.ChatFinishReason.Length ? OpenAI.Chat.ChatFinishReason.Length : OpenAI.Chat.ChatFinishReason.Stop,
            served.FinishReason);

        var streamed = new StringBuilder();
        OpenAI.Chat.ChatFinishReason? finish = null;
        await foreach (var update in OpenAiClient().CompleteChatStreamingAsync(messages, options))
        {
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }

            finish ??= update.FinishReason;
        }

        Assert.Equal(expected.Text, streamed.ToString());
        Assert.NotNull(finish);
    }

    private static List<Microsoft.Extensions.AI.ChatMessage> LibraryMessages() =>
        [new(ChatRole.System, "be brief"), new(ChatRole.User, "hello there")];

    [Fact]
    public async Task Text_completions_equal_the_library_for_the_same_seed_streaming_too()
    {
        var library = ServerFixture.Library(_model);
        var expected = library.Generator.Generate(library.CreateGenerationRequest("the cat", new ChatOptions { Seed = 9, MaxOutputTokens = 10 }));
        using var http = new HttpClient { BaseAddress = _base };
        using var plain = await http.PostAsJsonAsync("/v1/completions", new { prompt = "the cat", seed = 9, max_tokens = 10 });
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        using var json = JsonDocument.Parse(await plain.Content.ReadAsStringAsync());
        Assert.Equal("text_completion", json.RootElement.GetProperty("object").GetString());
        Assert.Equal(expected.Completion, json.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal(expected.TokenIds.Count, json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());

        using var stream = await http.PostAsJsonAsync("/v1/completions", new { prompt = "the cat", seed = 9, max_tokens = 10, stream = true });
        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        var events = (await stream.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        var text = string.Concat(events[..^1].Select(e => JsonDocument.Parse(e["data: ".Length..]).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal(expected.Completion, text);
    }

    [Fact]
    public async Task Models_and_health_answer()
    {
        using var http = new HttpClient { BaseAddress = _base };
        using var models = JsonDocument.Parse(await http.GetStringAsync("/v1/models"));
        Assert.Equal("tiny", models.RootElement.GetProperty("data")[0].GetProperty("id").GetString());
        using var health = JsonDocument.Parse(await http.GetStringAsync("/health"));
        Assert.Equal("ok", health.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Sixty_four_concurrent_requests_equal_the_sequential_results_and_are_batched()
    {
        int largestBatch = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ServerMetrics.MeterName && instrument.Name == "esolm.server.batch.size")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<int>((_, value, _, _) => InterlockedMax(ref largestBatch, value));
        listener.Start();

        using var http = new HttpClient { BaseAddress = _base };
        async Task<string> Ask(int i)
        {
            using var r = await http.PostAsJsonAsync("/v1/chat/completions", new
            {
                seed = 100 + i, max_tokens = 8, messages = new object[] { new { role = "user", content = "q" + (i % 3) } },
            });
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            using var json = JsonDocument.Parse(await r.Content.ReadAsStringAsync());
            return json.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        }

        var sequential = new List<string>();
        for (int i = 0; i < 64; i++)
        {
            sequential.Add(await Ask(i));
        }

        var concurrent = await Task.WhenAll(Enumerable.Range(0, 64).Select(Ask));
        Assert.Equal(sequential, concurrent);
        Assert.True(largestBatch > 1, $"64 concurrent requests with equal settings never shared a sampler batch (largest {largestBatch}).");
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while (value > (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    [Theory]
    [InlineData("{not json", null, "invalid_json")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"max_tokens":100000}""", "max_tokens", null)]
    [InlineData("""{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""", "model", "model_not_found")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"sampler":"nope"}""", "sampler", null)]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"n":2}""", "n", null)]
    [InlineData("""{"messages":[{"role":"wizard","content":"hi"}]}""", "messages[0].role", null)]
    [InlineData("""{"messages":[]}""", "messages", null)]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"temperature":-1}""", "temperature", null)]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"steps":0}""", "steps", null)]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"alpha_eval":2}""", "alpha_eval", null)]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}],"max_tokens":100000,"stream":true}""", "max_tokens", null)]
    public async Task Bad_requests_get_400_naming_the_field(string body, string? param, string? code)
    {
        using var http = new HttpClient { BaseAddress = _base };
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("/v1/chat/completions", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var error = json.RootElement.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        if (param is not null)
        {
            Assert.Equal(param, error.GetProperty("param").GetString());
        }

        if (code is not null)
        {
            Assert.Equal(code, error.GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task Completions_name_the_prompt_field()
    {
        using var http = new HttpClient { BaseAddress = _base };
        using var response = await http.PostAsJsonAsync("/v1/completions", new { prompt = 5 });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("prompt", json.RootElement.GetProperty("error").GetProperty("param").GetString());
    }
}
