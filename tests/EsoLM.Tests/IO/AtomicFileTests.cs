using EsoLM.IO;
using Xunit;

namespace EsoLM.Tests.IO;

public sealed class AtomicFileTests : IDisposable
{
    private readonly SafetensorsTestFiles _files = new();

    public void Dispose() => _files.Dispose();

    [Fact]
    public void Failed_write_keeps_the_previous_file_and_leaves_no_temp_file()
    {
        var path = _files.File("weights.bin");
        File.WriteAllText(path, "previous content");

        var ex = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write(new byte[100_000]);
            throw new InvalidOperationException("boom");
        }));

        Assert.Equal("boom", ex.Message);
        Assert.Equal("previous content", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_files.Folder));
    }

    [Fact]
    public void Failed_write_with_no_previous_file_leaves_nothing()
    {
        var path = _files.File("new.bin");
        Assert.Throws<IOException>(() => AtomicFile.Write(path, _ => throw new IOException("disk full")));
        Assert.Empty(Directory.GetFiles(_files.Folder));
    }

    [Fact]
    public void Successful_write_replaces_the_file_and_leaves_no_temp_file()
    {
        var path = _files.File("out.bin");
        File.WriteAllText(path, "old old old old");
        AtomicFile.Write(path, stream => stream.Write("new"u8));
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(_files.Folder));
    }

    [Fact]
    public void Relative_path_is_written_in_its_folder()
    {
        var previous = Environment.CurrentDirectory;
        Environment.CurrentDirectory = _files.Folder;
        try
        {
            AtomicFile.Write("rel.bin", stream => stream.WriteByte(7));
        }
        finally
        {
            Environment.CurrentDirectory = previous;
        }

        Assert.Equal([7], File.ReadAllBytes(_files.File("rel.bin")));
    }

    [Fact]
    public void Safetensors_write_that_fails_midway_keeps_the_previous_file()
    {
        var path = _files.File("model.safetensors");
        SafetensorsWriter.Write(path, [new NamedTensor("w", [2], new float[] { 1, 2 })]);
        var before = File.ReadAllBytes(path);

        static IEnumerable<NamedTensor> Throwing()
        {
            yield return new NamedTensor("a", [1], new float[] { 3 });
            throw new InvalidOperationException("enumeration failed");
        }

        Assert.Throws<InvalidOperationException>(() => SafetensorsWriter.Write(path, Throwing()));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(_files.Folder));
    }

    [Fact]
    public void Arguments_are_checked()
    {
        Assert.Throws<ArgumentNullException>(() => AtomicFile.Write(null!, _ => { }));
        Assert.Throws<ArgumentException>(() => AtomicFile.Write(string.Empty, _ => { }));
        Assert.Throws<ArgumentNullException>(() => AtomicFile.Write(_files.File("x"), null!));
        Assert.Throws<DirectoryNotFoundException>(() => AtomicFile.Write(_files.File("missing/x.bin"), _ => { }));
    }
}
