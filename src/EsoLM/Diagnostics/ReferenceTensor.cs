using System.Text.Json;

namespace EsoLM.Diagnostics;

/// <summary>
/// A tensor in the reference-vector JSON format: <c>{"dtype": "f32"|"f64"|"i64"|"bool", "shape": [...], "data": [...]}</c>,
/// data flat in row-major order. f32 values are the shortest decimal of the float, so parsing them is bit-exact.
/// </summary>
internal sealed class ReferenceTensor
{
    private ReferenceTensor(string dtype, int[] shape, double[] values)
    {
        DType = dtype;
        Shape = shape;
        Values = values;
    }

    /// <summary>The dtype string of the file.</summary>
    public string DType { get; }

    /// <summary>The shape.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>All values as doubles (exact for f32, f64, bool and i64 below 2^53).</summary>
    public double[] Values { get; }

    /// <summary>Element count.</summary>
    public int Count => Values.Length;

    /// <summary>Parses a tensor object; throws <see cref="InvalidDataException"/> naming <paramref name="what"/> on bad input.</summary>
    public static ReferenceTensor Parse(JsonElement element, string what)
    {
        if (element.ValueKind != JsonValueKind.Object
            || !element.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String
            || !element.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array
            || !element.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"'{what}' is not a tensor object with dtype, shape and data.");
        }

        var dtype = dt.GetString()!;
        var shape = sh.EnumerateArray().Select(x => x.GetInt32()).ToArray();
        long count = 1;
        foreach (var d in shape)
        {
            count *= d;
        }

        if (count != data.GetArrayLength())
        {
            throw new InvalidDataException($"'{what}': shape [{string.Join(", ", shape)}] needs {count} values, data has {data.GetArrayLength()}.");
        }

        var values = new double[count];
        int i = 0;
        foreach (var x in data.EnumerateArray())
        {
            values[i++] = dtype switch
            {
                "f32" => x.GetSingle(),
                "f64" => x.GetDouble(),
                "i64" => x.GetInt64(),
                "bool" => x.ValueKind == JsonValueKind.True ? 1 : x.ValueKind == JsonValueKind.False ? 0 : x.GetInt32(),
                _ => throw new InvalidDataException($"'{what}' has unsupported dtype '{dtype}' (expected f32, f64, i64 or bool)."),
            };
        }

        return new ReferenceTensor(dtype, shape, values);
    }

    /// <summary>Reads the tensor property <paramref name="name"/> of <paramref name="parent"/>.</summary>
    public static ReferenceTensor Get(JsonElement parent, string name) =>
        parent.TryGetProperty(name, out var e) ? Parse(e, name) : throw new InvalidDataException($"Missing tensor '{name}'.");

    /// <summary>Values as float32.</summary>
    public float[] ToSingles() => Values.Select(v => (float)v).ToArray();

    /// <summary>Values as int32 (token ids, positions, counts).</summary>
    public int[] ToInt32s() => Values.Select(v => checked((int)v)).ToArray();
}
