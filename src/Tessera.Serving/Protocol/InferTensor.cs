using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Tessera.Serving.Protocol;

/// <summary>
/// A named tensor as the server moves it: protocol datatype, shape and raw little-endian bytes. BYTES tensors hold
/// each element as a 4-byte little-endian length followed by its bytes, the layout of the binary extension and of
/// gRPC's raw contents, so all three wire forms share one representation and batching can concatenate bytes.
/// </summary>
public sealed class InferTensor
{
    public InferTensor(string name, DataType dataType, long[] shape, ReadOnlyMemory<byte> data)
    {
        Name = name;
        DataType = dataType;
        Shape = shape;
        Data = data;
    }

    public string Name { get; }
    public DataType DataType { get; }
    public long[] Shape { get; }
    public ReadOnlyMemory<byte> Data { get; }

    public long ElementCount => ElementCountOf(Shape);

    public static long ElementCountOf(ReadOnlySpan<long> shape)
    {
        long n = 1;
        foreach (var d in shape) n = checked(n * d);
        return n;
    }

    public string ShapeText => $"[{string.Join(",", Shape)}]";

    /// <summary>
    /// Checks that the bytes agree with datatype and shape (and, for BYTES, that every element's length fits);
    /// throws a 400 naming the tensor and the problem.
    /// </summary>
    public void Validate()
    {
        foreach (var d in Shape)
            if (d < 0) throw InferenceException.BadRequest($"input '{Name}' has a negative dimension in shape {ShapeText}");
        long count;
        try { count = ElementCount; }
        catch (OverflowException) { throw InferenceException.BadRequest($"input '{Name}' shape {ShapeText} is too large"); }
        int size = DataType.ElementSize();
        if (size > 0)
        {
            if (Data.Length != count * size)
                throw InferenceException.BadRequest(
                    $"input '{Name}' with shape {ShapeText} and datatype {DataType.Name()} needs {count * size} bytes ({count} elements), got {Data.Length}");
            return;
        }
        var span = Data.Span;
        int offset = 0;
        for (long i = 0; i < count; i++)
        {
            if (span.Length - offset < 4)
                throw InferenceException.BadRequest($"input '{Name}': BYTES element {i} has no 4-byte length prefix ({count} elements expected, data ends at byte {span.Length})");
            uint len = BinaryPrimitives.ReadUInt32LittleEndian(span[offset..]);
            offset += 4;
            if (len > (uint)(span.Length - offset))
                throw InferenceException.BadRequest($"input '{Name}': BYTES element {i} claims {len} bytes but only {span.Length - offset} remain");
            offset += (int)len;
        }
        if (offset != span.Length)
            throw InferenceException.BadRequest($"input '{Name}': {span.Length - offset} bytes left over after {count} BYTES elements (shape {ShapeText})");
    }

    public ReadOnlySpan<T> AsSpan<T>() where T : unmanaged => MemoryMarshal.Cast<byte, T>(Data.Span);

    /// <summary>Each BYTES element as a slice of <see cref="Data"/> (call <see cref="Validate"/> first).</summary>
    public List<ReadOnlyMemory<byte>> GetElements()
    {
        var list = new List<ReadOnlyMemory<byte>>((int)Math.Min(ElementCount, 1 << 20));
        int offset = 0;
        var span = Data.Span;
        while (offset < span.Length)
        {
            int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(span[offset..]);
            list.Add(Data.Slice(offset + 4, len));
            offset += 4 + len;
        }
        return list;
    }

    public string[] GetStrings() => [.. GetElements().Select(e => Encoding.UTF8.GetString(e.Span))];

    public static InferTensor FromArray<T>(string name, DataType type, long[] shape, T[] values) where T : unmanaged =>
        new(name, type, shape, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    public static InferTensor FromElements(string name, long[] shape, IReadOnlyList<ReadOnlyMemory<byte>> elements)
    {
        int total = 0;
        foreach (var e in elements) total += 4 + e.Length;
        var buffer = new byte[total];
        int offset = 0;
        foreach (var e in elements)
        {
            BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(offset), e.Length);
            e.Span.CopyTo(buffer.AsSpan(offset + 4));
            offset += 4 + e.Length;
        }
        return new InferTensor(name, DataType.Bytes, shape, buffer);
    }

    public static InferTensor FromStrings(string name, long[] shape, IEnumerable<string> values) =>
        FromElements(name, shape, [.. values.Select(v => (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(v))]);
}
