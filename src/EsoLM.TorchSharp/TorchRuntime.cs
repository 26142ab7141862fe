using System.Globalization;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace EsoLM.TorchSharp;

/// <summary>
/// Loads libtorch through TorchSharp and turns its failures into messages that name the fix (TorchSharp's own message
/// blames a missing package even when the cause is an old libstdc++), and parses device names.
/// </summary>
public static class TorchRuntime
{
    private static readonly Lock Gate = new();
    private static bool _cpuReady;
    private static bool _cudaReady;

    /// <summary>The fix for the TorchSharp 0.107 loader failure on libstdc++ older than GCC 13, as one sentence.</summary>
    public const string LoaderFixHint =
        "On Linux with a libstdc++ older than GCC 13 (Debian 12, Ubuntu 22.04) TorchSharp 0.107.0's libLibTorchSharp.so needs " +
        "the one-byte loader fix that the EsoLM.TorchSharp package applies after Build and Publish (build/EsoLM.TorchSharp.targets); " +
        "make sure the app references EsoLM.TorchSharp as a package (or imports that targets file) and was rebuilt, and that " +
        "EsoLmPatchLibTorchSharp is not false. See docs/gpu.md.";

    /// <summary>
    /// Parses <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>. Throws <see cref="ArgumentException"/> naming the value otherwise.
    /// </summary>
    public static (DeviceType Type, int Index) ParseDevice(string device)
    {
        ArgumentNullException.ThrowIfNull(device);
        var d = device.Trim().ToLowerInvariant();
        if (d == "cpu")
        {
            return (DeviceType.CPU, -1);
        }

        if (d == "cuda")
        {
            return (DeviceType.CUDA, 0);
        }

        if (d.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(d.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out int index))
        {
            return (DeviceType.CUDA, index);
        }

        throw new ArgumentException($"Unknown torch device '{device}': use cpu, cuda or cuda:N.", nameof(device));
    }

    /// <summary>
    /// Loads libtorch for the device (once per process) and returns the TorchSharp device. Throws
    /// <see cref="TorchBackendUnavailableException"/> with the fix when libtorch, or CUDA, cannot be loaded.
    /// </summary>
    public static Device GetDevice(string device)
    {
        var (type, index) = ParseDevice(device);
        EnsureLoaded(type);
        if (type == DeviceType.CUDA)
        {
            int count = cuda.device_count();
            if (index >= count)
            {
                throw new ArgumentOutOfRangeException(nameof(device), device, $"CUDA device {index} does not exist: this machine has {count} CUDA device(s).");
            }

            return new Device(DeviceType.CUDA, index);
        }

        return CPU;
    }

    /// <summary>Whether libtorch loads on this machine for the device type (no exception).</summary>
    public static bool IsAvailable(string device)
    {
        try
        {
            GetDevice(device);
            return true;
        }
        catch (TorchBackendUnavailableException)
        {
            return false;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Sets libtorch's intra-op CPU thread count (process-wide).</summary>
    public static void SetCpuThreads(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        EnsureLoaded(DeviceType.CPU);
        set_num_threads(threads);
    }

    private static void EnsureLoaded(DeviceType type)
    {
        lock (Gate)
        {
            if (type == DeviceType.CPU ? _cpuReady : _cudaReady)
            {
                return;
            }

            // TorchSharp prints its loader trace to the console when loading fails; keep it out of the app's stdout
            // (e.g. `esolm … --json`) and carry the gist in the exception instead.
            var stdout = Console.Out;
            using var trace = new StringWriter(CultureInfo.InvariantCulture);
            try
            {
                Console.SetOut(trace);
                InitializeDeviceType(type);
            }
            catch (Exception e) when (e is NotSupportedException or DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or InvalidOperationException)
            {
                throw new TorchBackendUnavailableException(Explain(type, e), e);
            }
            finally
            {
                Console.SetOut(stdout);
            }

            if (type == DeviceType.CUDA && !cuda.is_available())
            {
                throw new TorchBackendUnavailableException(Explain(type, null));
            }

            if (type == DeviceType.CPU)
            {
                _cpuReady = true;
            }
            else
            {
                _cudaReady = true;
            }
        }
    }

    private static string Explain(DeviceType type, Exception? e)
    {
        string rid = RuntimeInformation.RuntimeIdentifier;
        string package = type == DeviceType.CUDA
            ? (OperatingSystem.IsWindows() ? "libtorch-cuda-12.8-win-x64 (2.10.0)" : "libtorch-cuda-12.8-linux-x64 (2.10.0)")
            : (OperatingSystem.IsWindows() ? "libtorch-cpu-win-x64 (2.10.0)" : OperatingSystem.IsMacOS() ? "libtorch-cpu-osx-arm64 (2.10.0)" : "libtorch-cpu-linux-x64 (2.10.0)");
        var msg = $"The TorchSharp backend could not load libtorch for '{(type == DeviceType.CUDA ? "cuda" : "cpu")}' on {rid}. " +
            $"Fix: add a PackageReference to {package} in the application project (EsoLM.TorchSharp references TorchSharp only).";
        if (type == DeviceType.CUDA)
        {
            msg += " A CUDA device also needs an NVIDIA driver that supports CUDA 12.8; use --backend torch:cpu (or Device = \"cpu\") without one.";
        }

        if (OperatingSystem.IsLinux())
        {
            msg += " " + LoaderFixHint;
        }

        if (e is not null)
        {
            msg += $" (TorchSharp said: {e.Message.Split('\n')[0].Trim()})";
        }

        return msg;
    }
}
