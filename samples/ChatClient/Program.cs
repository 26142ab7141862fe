// ChatClient: EsoLmChatClient as an IChatClient; streaming equals the response; concurrent == sequential.
using EsoLM.Extensions.AI;
using EsoLM.Backends.Cpu;
using EsoLM.Hosting;
using EsoLM.Modeling;
using EsoLM.Text;
using Microsoft.Extensions.AI;

var config = new ModelConfig
{
    VocabSize = 258, MaskTokenId = 257, HiddenSize = 32, Heads = 4, Layers = 2,
    CondDim = 8, MlpRatio = 2, ContextLength = 32, FrequencyEmbeddingSize = 16,
};
var model = new EsoLmModel(CpuBackend.Default.Load(ModelParameters.CreateInitialized(config, seed: 1)), new ByteTokenizer());

#region chat
using IChatClient client = new EsoLmChatClient(model, new EsoLmOptions { Steps = 4 });
var options = new ChatOptions { Seed = 1, MaxOutputTokens = 8, Temperature = 0.8f }
    .WithEsoLmSteps(4)
    .WithEsoLmAlphaEval(0.5);

ChatResponse response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], options);
Console.WriteLine($"{response.Text} [{response.FinishReason}, {response.Usage?.OutputTokenCount} tokens]");

var streamed = new System.Text.StringBuilder();
await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hi")], options))
{
    streamed.Append(update.Text);   // append-only: the committed left-to-right prefix
}
#endregion

var concurrent = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => client.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], options)));
if (streamed.ToString() != response.Text || concurrent.Any(r => r.Text != response.Text) || response.Usage is null)
{
    Console.Error.WriteLine("FAIL: streaming, concurrent and plain responses differ.");
    return 1;
}

Console.WriteLine("ChatClient OK");
return 0;
