using EsoLM.Hosting;
using EsoLM.IO;
using EsoLM.Text;
using EsoLM.Masks;
using EsoLM.Pipeline;
using EsoLM.Sampling;
using EsoLM.Data;
using EsoLM.Training;
using Microsoft.Extensions.DependencyInjection;

namespace EsoLM.Tests.DependencyInjection;

/// <summary>
/// The model carries how it was trained: the file's objective entry survives <see cref="EsoLmModel.Load(string, EsoLM.Tensors.ComputeContext?, IEsoLmStrategyProvider?)"/>
/// and <see cref="EsoLmModel.Save(string)"/>, and every entry point samples with the trained masks and α0 by default,
/// refusing other masks unless allowed. Expected tokens come from a sampler built directly with the variant and α0
/// written into the file, an independent path.
/// </summary>
public sealed class TrainingDescriptionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("esolm-trained-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Saved(ObjectiveOptions objective)
    {
        var model = TinyModels.Model(seed: 5);
        var path = Path.Combine(_dir, $"m{Guid.NewGuid():N}.safetensors");
        ModelFile.Save(path, model.Transformer.CopyParametersToHost(), model.Tokenizer.Describe(), new Dictionary<string, string>
        {
            [TrainingDescription.MetadataKey] = Checkpoint.Describe(objective),
            ["esolm.validation_nelbo_ppl"] = "3.5",
            ["note"] = "kept",
        });
        return path;
    }

    /// <summary>Tokens of one sample drawn with a sampler built by hand (no generator, no model-level defaults).</summary>
    private static int[] Direct(EsoLmModel model, EsoLmVariant variant, double alphaEval, int length, ulong seed) =>
        new EsoLmSampler(model.Transformer, new EsoLmSamplerOptions
        {
            Variant = variant, AlphaEval = alphaEval, Steps = 4, Length = length, EosTokenId = model.EosTokenId,
        }).Generate([new SamplingRequest { Seed = seed, SequenceId = 0 }]).Sequences[0].Tokens;

    [Fact]
    public void Load_reads_the_training_description_and_Save_writes_it_back()
    {
        var path = Saved(new ObjectiveOptions { Variant = EsoLmVariant.A, Alpha0 = 0.25, Schedule = new EsoLM.Schedules.CosineSchedule() });
        var model = EsoLmModel.Load(path);
        Assert.NotNull(model.Training);
        Assert.Equal(EsoLmVariant.A, model.Training!.Variant);
        Assert.Equal(0.25, model.Training.Alpha0);
        Assert.Equal("esolm-a", model.Training.MaskPolicy);
        Assert.Equal("cosine", model.Training.Objective!.Schedule.Name);
        Assert.Equal(model.Tokenizer.Describe(), model.Training.Tokenizer);
        Assert.Equal("kept", model.Metadata["note"]);
        Assert.Equal("3.5", model.Metadata["esolm.validation_nelbo_ppl"]); // other esolm.* entries are no longer dropped
        Assert.False(model.Metadata.ContainsKey(TrainingDescription.MetadataKey));

        var again = Path.Combine(_dir, "again.safetensors");
        model.Save(again);
        var reloaded = EsoLmModel.Load(again);
        Assert.Equal(model.Training.Variant, reloaded.Training!.Variant);
        Assert.Equal(model.Training.Alpha0, reloaded.Training.Alpha0);
        Assert.Equal(Checkpoint.Describe(model.Training.Objective!), Checkpoint.Describe(reloaded.Training.Objective!));
        Assert.Equal(model.Metadata, reloaded.Metadata);
    }

    [Fact]
    public void Unknown_schedule_keeps_variant_and_alpha_and_a_resolver_completes_the_objective()
    {
        var json = Checkpoint.Describe(new ObjectiveOptions { Variant = EsoLmVariant.A, Alpha0 = 0.5 }).Replace("log-linear", "mine", StringComparison.Ordinal);
        var partial = TrainingDescription.Parse(json);
        Assert.Equal((EsoLmVariant.A, 0.5, "mine"), (partial.Variant, partial.Alpha0, partial.ScheduleName));
        Assert.Null(partial.Objective);
        var services = new ServiceCollection();
        services.AddEsoLm().AddNoiseSchedule("mine", new EsoLM.Schedules.CosineSchedule());
        using var provider = services.BuildServiceProvider();
        var full = TrainingDescription.Parse(json, null, provider.GetRequiredService<IEsoLmStrategyProvider>());
        Assert.NotNull(full.Objective);

        var bad = Assert.Throws<InvalidDataException>(() => TrainingDescription.Parse("{\"alpha0\":2,\"variant\":\"B\"}"));
        Assert.Contains("alpha0", bad.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => TrainingDescription.Parse("{\"alpha0\":0.5,\"variant\":\"C\"}"));
    }

    [Fact]
    public void Generator_samples_with_the_trained_variant_and_alpha_by_default()
    {
        foreach (var variant in new[] { EsoLmVariant.A, EsoLmVariant.B })
        {
            var model = EsoLmModel.Load(Saved(new ObjectiveOptions { Variant = variant, Alpha0 = 0.5 }));
            var result = new EsoLmGenerator(model, new EsoLmOptions { Steps = 4 }).Generate(new GenerationRequest(string.Empty) { Seed = 9 });
            Assert.Equal(Direct(model, variant, 0.5, 24, 9), result.TokenIds.ToArray());
        }
    }

    [Fact]
    public void Other_masks_are_refused_unless_allowed()
    {
        var model = EsoLmModel.Load(Saved(new ObjectiveOptions { Variant = EsoLmVariant.A, Alpha0 = 0.5 }));
        var wrong = Assert.Throws<ArgumentException>(() => new EsoLmGenerator(model, new EsoLmOptions { MaskPolicy = "esolm-b" }));
        Assert.Contains("esolm-a", wrong.Message, StringComparison.Ordinal);
        Assert.Contains("AllowMaskPolicyMismatch", wrong.Message, StringComparison.Ordinal);
        foreach (var sampler in new[] { "mdlm", "bd3" })
        {
            Assert.Throws<ArgumentException>(() => new EsoLmGenerator(model, new EsoLmOptions { Sampler = sampler }));
        }

        var generator = new EsoLmGenerator(model, new EsoLmOptions { Steps = 4 });
        Assert.Throws<ArgumentException>(() => generator.Generate(new GenerationRequest("") { Sampler = "mdlm", MaxNewTokens = 4 }));

        var allowed = new EsoLmGenerator(model, new EsoLmOptions { MaskPolicy = "esolm-b", AllowMaskPolicyMismatch = true, Steps = 4 });
        var result = allowed.Generate(new GenerationRequest(string.Empty) { Seed = 3 });
        Assert.Equal(Direct(model, EsoLmVariant.B, 0.5, 24, 3), result.TokenIds.ToArray());

        // A model that does not say how it was trained runs anything (variant B, α_eval 1 by default).
        var bare = TinyModels.Model(seed: 5);
        Assert.Null(bare.Training);
        var any = new EsoLmGenerator(bare, new EsoLmOptions { Sampler = "mdlm", Steps = 4 }).Generate(new GenerationRequest("") { Seed = 1, MaxNewTokens = 4 });
        Assert.Equal("mdlm", any.Sampler);
    }

    [Fact]
    public void Mdlm_baseline_defaults_to_the_mdlm_sampler()
    {
        var model = EsoLmModel.Load(Saved(new ObjectiveOptions { Variant = EsoLmVariant.Mdlm, Alpha0 = 1 }));
        var result = new EsoLmGenerator(model, new EsoLmOptions { Steps = 4 }).Generate(new GenerationRequest("") { Seed = 1, MaxNewTokens = 4 });
        Assert.Equal("mdlm", result.Sampler);
        var esolm = new EsoLmGenerator(model, new EsoLmOptions { Sampler = "esolm", Steps = 4 });
        var refused = Assert.ThrowsAny<ArgumentException>(() => esolm.Generate(new GenerationRequest("") { Seed = 1, MaxNewTokens = 4 }));
        Assert.Contains("MDLM", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddEsoLm_loads_the_description_and_the_chat_path_defaults_to_it()
    {
        var path = Saved(new ObjectiveOptions { Variant = EsoLmVariant.A, Alpha0 = 0.5 });
        var services = new ServiceCollection();
        services.AddEsoLm(o =>
        {
            o.ModelPath = path;
            o.Steps = 4;
            o.Threads = 1;
        });
        using var provider = services.BuildServiceProvider();
        var generator = provider.GetRequiredService<EsoLmGenerator>();
        Assert.Equal(EsoLmVariant.A, generator.Model.Training!.Variant);
        var result = generator.Generate(new GenerationRequest(string.Empty) { Seed = 4 });
        Assert.Equal(Direct(generator.Model, EsoLmVariant.A, 0.5, 24, 4), result.TokenIds.ToArray());

        var refused = new ServiceCollection();
        refused.AddEsoLm(o =>
        {
            o.ModelPath = path;
            o.MaskPolicy = "esolm-b";
        });
        using var bad = refused.BuildServiceProvider();
        Assert.Throws<ArgumentException>(() => bad.GetRequiredService<EsoLmGenerator>());
    }

    [Fact]
    public void Estimator_generates_with_the_variant_and_alpha_it_trained()
    {
        var transformer = new EsoLmEstimator(new EsoLmEstimatorOptions
        {
            Tokenizer = TinyModels.Tokenizer, ContextLength = 16, HiddenSize = 32, Heads = 4, Layers = 1, CondDim = 8, MlpRatio = 2, Threads = 1,
            Trainer = new TrainerOptions { Steps = 2, BatchSize = 4, WarmupSteps = 1, Seed = 2 },
            Objective = new ObjectiveOptions { Variant = EsoLmVariant.A, Alpha0 = 0.25 },
            Generation = new EsoLmOptions { Steps = 4 },
        }).Fit(BuiltInLanguage.CreateGenerator(3).Documents(20, 2));
        Assert.Equal((EsoLmVariant.A, 0.25), (transformer.Model.Training!.Variant, transformer.Model.Training.Alpha0));
        var result = transformer.Transform([new GenerationRequest(string.Empty) { Seed = 6 }]).Single();
        Assert.Equal(Direct(transformer.Model, EsoLmVariant.A, 0.25, 16, 6), result.TokenIds.ToArray());

        // The description travels with the saved transformer.
        using var stream = new MemoryStream();
        transformer.Save(stream);
        stream.Position = 0;
        Assert.Equal(EsoLmVariant.A, EsoLmTransformer.Load(stream).Model.Training!.Variant);
    }
}
