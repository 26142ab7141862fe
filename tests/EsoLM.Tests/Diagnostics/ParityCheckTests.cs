using EsoLM.IO;
using EsoLM.Tests.Support;
using EsoLM.Diagnostics;

namespace EsoLM.Tests.Diagnostics;

public sealed class ParityCheckTests
{
    [Fact]
    public void A_perturbed_checkpoint_fails_the_check()
    {
        // Copy the golden folder with the bias of one output token nudged by 1e-3: the comparison must notice.
        var dir = Directory.CreateTempSubdirectory("esolm-parity-").FullName;
        try
        {
            foreach (var f in Directory.GetFiles(SharedData.Reference, "*.json"))
            {
                File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            }

            using (var reader = SafetensorsReader.Open(Path.Combine(SharedData.Reference, "weights.safetensors")))
            {
                var tensors = reader.Tensors.Select(t =>
                {
                    var data = reader.ReadSingle(t.Name);
                    if (t.Name == "output_layer.linear.bias")
                    {
                        data[5] += 1e-3f; // token 5's logit moves by 1e-3 everywhere
                    }

                    return new NamedTensor(t.Name, t.Shape, data);
                }).ToList();
                SafetensorsWriter.Write(Path.Combine(dir, "weights.safetensors"), tensors, reader.Metadata);
            }

            var report = ParityCheck.Run(dir, 1e-4);
            Assert.False(report.Passed);
            Assert.True(report.MaxAbsDiff > 1e-4);
            Assert.Contains(report.Cases, c => !c.Passed && c.Name.StartsWith("diffusion_B", StringComparison.Ordinal));
            Assert.Contains(report.Cases, c => !c.Passed && c.Name.StartsWith("kv_sampling_B", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Missing_folder_is_a_clear_error()
    {
        var ex = Assert.Throws<DirectoryNotFoundException>(() => ParityCheck.Run("/nonexistent/golden"));
        Assert.Contains("/nonexistent/golden", ex.Message, StringComparison.Ordinal);
    }
}
