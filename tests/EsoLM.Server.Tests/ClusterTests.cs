using EsoLM.Server.Cluster;
using EsoLM.Extensions.AI;
using EsoLM.Server.Serving;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace EsoLM.Server.Tests;

/// <summary>
/// Three silos on loopback, each with its own replica of the model; a front end routes a burst across them while one
/// silo is stopped. Every request gets an answer (text or a clean error) within a bound, none hangs, answers come from
/// more than one silo, and every text equals the library's text for the same seed.
/// </summary>
public sealed class ClusterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("esolm-cluster-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed class ReplicaSilo : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            var path = siloBuilder.Configuration["EsoLmModelPath"] ?? throw new InvalidOperationException("EsoLmModelPath is not configured.");
            siloBuilder.Services.AddEsoLm(o =>
            {
                o.ModelPath = path;
                o.Threads = 1;
            }).AddChatClient(c => c.ModelId = "tiny");
            siloBuilder.Services.AddEsoLmServer();
        }
    }

    [Fact]
    public async Task A_burst_survives_losing_a_silo_and_every_request_is_answered()
    {
        var model = ServerFixture.TinyModel(_dir, context: 256, hidden: 64, layers: 2);
        var builder = new TestClusterBuilder(3);
        builder.Properties["EsoLmModelPath"] = model;
        builder.AddSiloBuilderConfigurator<ReplicaSilo>();
        var cluster = builder.Build();
        await cluster.DeployAsync();
        try
        {
            var frontEnd = new ClusterCompletionBackend(cluster.Client, "tiny",
                new ClusterRoutingOptions { ReplicaKeys = 12, MaxAttempts = 3, AttemptTimeout = TimeSpan.FromSeconds(60) });
            var library = ServerFixture.Library(model);
            CompletionCall Call(int i) => new()
            {
                Kind = CompletionKind.Chat, Seed = 500 + i, MaxTokens = 120, Sampler = "ar",
                Messages = [new CallMessage("user", "burst " + i)],
            };

            var burst = Enumerable.Range(0, 24).Select(i => Task.Run(() => frontEnd.CompleteAsync(Call(i), CancellationToken.None))).ToArray();
            await Task.Delay(300);
            await cluster.StopSiloAsync(cluster.SecondarySilos[0]);

            var all = Task.WhenAll(burst);
            var finished = await Task.WhenAny(all, Task.Delay(TimeSpan.FromMinutes(4)));
            Assert.True(finished == all || burst.All(t => t.IsCompleted), "Some requests never got an answer.");

            var replicas = new HashSet<string>();
            int answered = 0;
            for (int i = 0; i < burst.Length; i++)
            {
                var task = burst[i];
                if (task.IsCompletedSuccessfully)
                {
                    var outcome = await task;
                    Assert.Null(outcome.Error);
                    var expected = await library.GetResponseAsync([new ChatMessage(ChatRole.User, "burst " + i)],
                        new ChatOptions { Seed = 500 + i, MaxOutputTokens = 120 }.WithEsoLmSampler("ar"));
                    Assert.Equal(expected.Text, outcome.Text);
                    replicas.Add(outcome.Replica);
                    answered++;
                }
                else
                {
                    Assert.IsType<ReplicaUnavailableException>(task.Exception!.InnerException); // a clean error, never a hang
                }
            }

            Assert.True(answered > 0, "No request succeeded.");
            Assert.True(replicas.Count > 1, $"All answers came from one silo ({string.Join(", ", replicas)}): requests were not routed across the cluster.");

            // The cluster keeps serving with two silos.
            var afterwards = await frontEnd.CompleteAsync(Call(99), CancellationToken.None);
            Assert.Null(afterwards.Error);
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }
}
