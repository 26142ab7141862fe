using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using EsoLM.IO;
using EsoLM.Modeling;
using EsoLM.Server;
using EsoLM.Server.Serving;
using EsoLM.Text;

namespace EsoLM.Cli.Bench;

/// <summary>One load level of <see cref="ServeBenchmark"/>.</summary>
/// <param name="Batching">Whether request batching was on.</param>
/// <param name="Clients">Concurrent clients.</param>
/// <param name="Requests">Requests sent (all answered 200).</param>
/// <param name="RequestsPerSecond">Throughput.</param>
/// <param name="TokensPerSecond">Completion tokens per second.</param>
/// <param name="P50Ms">Median latency.</param>
/// <param name="P99Ms">99th-percentile latency.</param>
internal sealed record ServeBenchmarkRow(bool Batching, int Clients, int Requests, double RequestsPerSecond, double TokensPerSecond, double P50Ms, double P99Ms);

/// <summary>
/// <c>esolm bench serve</c>: a bounded load test of <c>esolm serve</c> on loopback. For batching off and on, a server is
/// started in-process on a free port (each setting once untimed first, to get past tiered JIT); at each client count, that many clients send requests back to back (chat, fixed
/// max_tokens, distinct seeds) until the request count is reached. Reports throughput and p50/p99 latency.
/// </summary>
internal static class ServeBenchmark
{
    public static IReadOnlyList<ServeBenchmarkRow> Run(string? modelPath, IReadOnlyList<int> clientCounts, int requestsPerClient, int maxTokens, int threads)
    {
        string? temp = null;
        if (modelPath is null)
        {
            temp = Directory.CreateTempSubdirectory("esolm-bench-serve-").FullName;
            modelPath = Path.Combine(temp, "bench.safetensors");
            var tokenizer = new ByteTokenizer();
            var config = new ModelConfig
            {
                VocabSize = tokenizer.VocabularySize + 1, MaskTokenId = tokenizer.VocabularySize, HiddenSize = 256, Heads = 4, Layers = 4,
                CondDim = 128, ContextLength = 256,
            };
            ModelFile.Save(modelPath, ModelParameters.CreateRandom(config, 7, 0.05f), tokenizer.Describe());
        }

        try
        {
            // Tiered JIT keeps the first server run of a process slower for many seconds, whichever setting it is: run both
            // settings once untimed, then measure them side by side.
            var rows = new List<ServeBenchmarkRow>();
            foreach (var (batching, timed) in new[] { (false, false), (true, false), (false, true), (true, true) })
            {
                var app = EsoLmServerApp.Build(new EsoLmServeSettings
                {
                    ModelPath = modelPath,
                    Urls = "http://127.0.0.1:0",
                    ModelId = "bench",
                    Threads = threads > 0 ? threads : null,
                    Server = new EsoLmServerOptions { EnableBatching = batching, MaxQueueLength = 256, MaxBatchSize = 32 },
                });
                app.StartAsync().GetAwaiter().GetResult();
                try
                {
                    using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromMinutes(5) };
                    Level(http, 4, 2, maxTokens, 0); // warm-up: the sampler pool
                    foreach (int clients in clientCounts)
                    {
                        var row = Level(http, clients, requestsPerClient, maxTokens, 1000) with { Batching = batching };
                        if (timed)
                        {
                            rows.Add(row);
                        }
                    }
                }
                finally
                {
                    app.DisposeAsync().AsTask().GetAwaiter().GetResult();
                }
            }

            return rows;
        }
        finally
        {
            if (temp is not null)
            {
                Directory.Delete(temp, recursive: true);
            }
        }
    }

    private static ServeBenchmarkRow Level(HttpClient http, int clients, int requestsPerClient, int maxTokens, int seedBase)
    {
        var latencies = new List<double>();
        long tokens = 0;
        var clock = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            for (int r = 0; r < requestsPerClient; r++)
            {
                var started = Stopwatch.GetTimestamp();
                using var response = await http.PostAsJsonAsync("/v1/chat/completions", new
                {
                    seed = seedBase + (c * requestsPerClient) + r,
                    max_tokens = maxTokens,
                    messages = new object[] { new { role = "user", content = "Tell me something." } },
                }).ConfigureAwait(false);
                response.EnsureSuccessStatusCode();
                using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync().ConfigureAwait(false));
                Interlocked.Add(ref tokens, json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt64());
                lock (latencies)
                {
                    latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            }
        })).ToArray();
        Task.WaitAll(workers);
        double seconds = clock.Elapsed.TotalSeconds;
        latencies.Sort();
        return new ServeBenchmarkRow(false, clients, latencies.Count, latencies.Count / seconds, tokens / seconds, Percentile(latencies, 0.5), Percentile(latencies, 0.99));
    }

    private static double Percentile(List<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];

    public static string ToJson(IReadOnlyList<ServeBenchmarkRow> rows)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("benchmark", "serve");
            w.WriteStartArray("rows");
            foreach (var r in rows)
            {
                w.WriteStartObject();
                w.WriteBoolean("batching", r.Batching);
                w.WriteNumber("clients", r.Clients);
                w.WriteNumber("requests", r.Requests);
                w.WriteNumber("requests_per_second", Math.Round(r.RequestsPerSecond, 3));
                w.WriteNumber("tokens_per_second", Math.Round(r.TokensPerSecond, 1));
                w.WriteNumber("p50_ms", Math.Round(r.P50Ms, 1));
                w.WriteNumber("p99_ms", Math.Round(r.P99Ms, 1));
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    public static string ToTable(IReadOnlyList<ServeBenchmarkRow> rows)
    {
        var sb = new System.Text.StringBuilder("| batching | clients | requests | req/s | tokens/s | p50 ms | p99 ms |\n|---|---|---|---|---|---|---|\n");
        foreach (var r in rows)
        {
            sb.Append(CultureInfo.InvariantCulture, $"| {(r.Batching ? "on" : "off")} | {r.Clients} | {r.Requests} | {r.RequestsPerSecond:F2} | {r.TokensPerSecond:F0} | {r.P50Ms:F0} | {r.P99Ms:F0} |\n");
        }

        return sb.ToString();
    }
}
