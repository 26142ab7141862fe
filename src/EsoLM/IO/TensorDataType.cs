namespace EsoLM.IO;

/// <summary>Element types this library reads from safetensors files.</summary>
internal enum TensorDataType
{
    /// <summary>IEEE 754 binary32 (<c>"F32"</c>), 4 bytes per element.</summary>
    F32,

    /// <summary>IEEE 754 binary16 (<c>"F16"</c>), 2 bytes per element.</summary>
    F16,

    /// <summary>bfloat16 (<c>"BF16"</c>): the upper 16 bits of a binary32, 2 bytes per element.</summary>
    BF16,
}

/// <summary>Helpers for <see cref="TensorDataType"/>: sizes and the names safetensors uses.</summary>
internal static class TensorDataTypes
{
    /// <summary>The supported names, as they appear in error messages.</summary>
    internal const string SupportedList = "F32, F16, BF16";

    internal static int SizeOf(TensorDataType type) => type switch
    {
        TensorDataType.F32 => 4,
        TensorDataType.F16 => 2,
        TensorDataType.BF16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown tensor data type."),
    };

    internal static string ToName(TensorDataType type) => type switch
    {
        TensorDataType.F32 => "F32",
        TensorDataType.F16 => "F16",
        TensorDataType.BF16 => "BF16",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown tensor data type."),
    };

    internal static bool TryParse(string name, out TensorDataType type)
    {
        switch (name)
        {
            case "F32":
                type = TensorDataType.F32;
                return true;
            case "F16":
                type = TensorDataType.F16;
                return true;
            case "BF16":
                type = TensorDataType.BF16;
                return true;
            default:
                type = default;
                return false;
        }
    }
}
