using EsoLM.Hosting;

namespace EsoLM.Tests.DependencyInjection;

/// <summary><see cref="EsoLmGenerator.GenerateBatch"/> (what the server's request batching uses) against one request at a time.</summary>
public sealed class GenerateBatchTests
{
    [Fact]
    public void A_batch_of_mixed_requests_equals_the_requests_run_one_at_a_time()
    {
        var generator = new EsoLmGenerator(TinyModels.ByteModel(), new EsoLmOptions { Steps = 4 });
        GenerationRequest[] requests =
        [
            new("ab") { Seed = 1, MaxNewTokens = 6 },
            new("ab") { Seed = 2, MaxNewTokens = 6 },            // same settings as the first: shares its sampler batch
            new("xyz") { Seed = 1, MaxNewTokens = 5 },           // same total length: batched with the first two
            new("ab") { Seed = 3, MaxNewTokens = 6, Sampler = "ar" },
            new("ab") { Seed = 4, MaxNewTokens = 6, TopP = 0.5 },
            new("q") { Seed = 5, MaxNewTokens = 9, Sampler = "mdlm", StopSequences = ["a"] },
        ];
        var batch = generator.GenerateBatch(requests);
        Assert.Equal(requests.Length, batch.Count);
        for (int i = 0; i < requests.Length; i++)
        {
            var single = generator.Generate(requests[i]);
            Assert.Equal(single.TokenIds, batch[i].TokenIds);
            Assert.Equal(single.Completion, batch[i].Completion);
            Assert.Equal(single.FinishReason, batch[i].FinishReason);
        }
    }

    [Fact]
    public void A_bad_request_fails_the_batch_before_any_work()
    {
        var generator = new EsoLmGenerator(TinyModels.ByteModel());
        Assert.ThrowsAny<ArgumentException>(() => generator.GenerateBatch([new("ab") { Seed = 1, MaxNewTokens = 4 }, new("ab") { MaxNewTokens = 100_000 }]));
        Assert.Throws<KeyNotFoundException>(() => generator.Validate(new GenerationRequest("ab") { Sampler = "nope" }));
    }
}
