using System.Text;

namespace Tessera.Trees.Onnx;

/// <summary>The few protobuf wire-format writes the ONNX exporter needs (varints and length-delimited fields).</summary>
internal sealed class ProtoWriter
{
    private readonly MemoryStream _stream = new();

    public byte[] ToArray() => _stream.ToArray();

    private void Varint(ulong v)
    {
        while (v >= 0x80) { _stream.WriteByte((byte)(v | 0x80)); v >>= 7; }
        _stream.WriteByte((byte)v);
    }

    private void Tag(int field, int wireType) => Varint((ulong)((field << 3) | wireType));

    public ProtoWriter Int(int field, long value) { Tag(field, 0); Varint((ulong)value); return this; }

    public ProtoWriter Float(int field, float value)
    {
        Tag(field, 5);
        Span<byte> b = stackalloc byte[4];
        BitConverter.TryWriteBytes(b, value);
        _stream.Write(b);
        return this;
    }

    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> bytes) { Tag(field, 2); Varint((ulong)bytes.Length); _stream.Write(bytes); return this; }

    public ProtoWriter String(int field, string s) => Bytes(field, Encoding.UTF8.GetBytes(s));

    public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());

    /// <summary>Packed repeated int64.</summary>
    public ProtoWriter PackedInts(int field, IEnumerable<long> values)
    {
        var inner = new ProtoWriter();
        foreach (long v in values) inner.Varint((ulong)v);
        return Bytes(field, inner.ToArray());
    }

    /// <summary>Packed repeated float.</summary>
    public ProtoWriter PackedFloats(int field, IEnumerable<float> values)
    {
        var bytes = new List<byte>();
        foreach (float v in values) bytes.AddRange(BitConverter.GetBytes(v));
        return Bytes(field, bytes.ToArray());
    }
}
