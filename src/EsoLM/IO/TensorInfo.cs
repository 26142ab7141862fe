namespace EsoLM.IO;

/// <summary>
/// One tensor's entry in a safetensors header: its name, element type, shape and byte range
/// [<see cref="Begin"/>, <see cref="End"/>) relative to the start of the data region.
/// </summary>
/// <param name="Name">The tensor's key in the header.</param>
/// <param name="DataType">The element type stored in the file.</param>
/// <param name="Shape">Dimensions, outermost first (row-major); empty for a scalar.</param>
/// <param name="Begin">First byte of the tensor, relative to the data region.</param>
/// <param name="End">One past the last byte of the tensor, relative to the data region.</param>
internal sealed record TensorInfo(string Name, TensorDataType DataType, IReadOnlyList<int> Shape, long Begin, long End)
{
    /// <summary>Number of elements: the product of <see cref="Shape"/> (1 for a scalar, 0 if any dimension is 0).</summary>
    public long ElementCount
    {
        get
        {
            ArgumentNullException.ThrowIfNull(Shape);
            long count = 1;
            foreach (var d in Shape)
            {
                count = checked(count * d);
            }

            return count;
        }
    }

    /// <summary>Returns the shape formatted as <c>[a, b, c]</c>, for messages.</summary>
    internal string ShapeText => FormatShape(Shape);

    internal static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    internal static string FormatShape(IEnumerable<int> shape) => "[" + string.Join(", ", shape) + "]";
}
