using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Tessera.Serving.Protocol;

/// <summary>
/// Decodes a JSON tensor's <c>data</c> (flat or nested to any depth, row-major) into the raw bytes of
/// <see cref="InferTensor"/>, checking every element against the datatype; errors name the tensor and element.
/// </summary>
public static class JsonTensorReader
{
    // expected: the element count the shape declares, when known: the buffer is sized for it up front and handed
    // over without a copy when the data fills it exactly (an image is 150 528 floats; growing from a small buffer
    // and copying out was part of why the server decoded it slower than the peer's plain loop).
    public static byte[] Read(JsonElement data, DataType type, string tensor, out long count, long expected = -1)
    {
        int size = type.ElementSize();
        long capacity = size > 0 && expected > 0 ? expected * size : 256;
        var buffer = new Buffer(capacity <= Array.MaxLength ? (int)capacity : 256);
        long n = 0;
        Append(data, type, tensor, buffer, ref n);
        count = n;
        return buffer.ToArray();
    }

    /// <summary>An <see cref="IBufferWriter{T}"/> over one array that it can hand over when full.</summary>
    private sealed class Buffer(int capacity) : IBufferWriter<byte>
    {
        private byte[] _array = new byte[capacity];
        private int _written;

        public void Advance(int count) => _written += count;

        public Span<byte> GetSpan(int sizeHint = 0)
        {
            if (_array.Length - _written < Math.Max(sizeHint, 1))
                Array.Resize(ref _array, Math.Max(_written + Math.Max(sizeHint, 1), (int)Math.Min(Array.MaxLength, 2L * _array.Length)));
            return _array.AsSpan(_written);
        }

        public Memory<byte> GetMemory(int sizeHint = 0)
        {
            GetSpan(sizeHint);
            return _array.AsMemory(_written);
        }

        public byte[] ToArray() => _written == _array.Length ? _array : _array.AsSpan(0, _written).ToArray();
    }

    private static void Append(JsonElement e, DataType type, string tensor, Buffer buffer, ref long n)
    {
        if (e.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in e.EnumerateArray()) Append(item, type, tensor, buffer, ref n);
            return;
        }
        WriteElement(e, type, tensor, n, buffer);
        n++;
    }

    private static InferenceException Bad(string tensor, long index, DataType type, JsonElement e) =>
        InferenceException.BadRequest($"input '{tensor}' element {index}: expected {Describe(type)}, got {Show(e)}");

    private static string Describe(DataType t) => t switch
    {
        DataType.Bool => "true or false (BOOL)",
        DataType.Bytes => "a string (BYTES)",
        DataType.FP16 or DataType.BF16 or DataType.FP32 or DataType.FP64 => $"a number ({t.Name()})",
        _ => $"an integer in the range of {t.Name()}",
    };

    private static string Show(JsonElement e)
    {
        string raw = e.GetRawText();
        return $"{e.ValueKind.ToString().ToLowerInvariant()} {(raw.Length > 40 ? raw[..40] + "..." : raw)}";
    }

    private static void WriteElement(JsonElement e, DataType type, string tensor, long index, Buffer buffer)
    {
        switch (type)
        {
            case DataType.Bool:
                if (e.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) throw Bad(tensor, index, type, e);
                buffer.GetSpan(1)[0] = e.ValueKind == JsonValueKind.True ? (byte)1 : (byte)0;
                buffer.Advance(1);
                return;
            case DataType.Bytes:
                if (e.ValueKind != JsonValueKind.String) throw Bad(tensor, index, type, e);
                string s = e.GetString()!;
                int len = Encoding.UTF8.GetByteCount(s);
                var span = buffer.GetSpan(4 + len);
                BinaryPrimitives.WriteInt32LittleEndian(span, len);
                Encoding.UTF8.GetBytes(s, span[4..]);
                buffer.Advance(4 + len);
                return;
            case DataType.FP32:
                // Parsed as a float directly: no double intermediate (faster, and no double rounding). A JSON number
                // is finite, so an infinite result means it overflowed FP32: refused like out-of-range integers.
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetSingle(out float f) || !float.IsFinite(f)) throw Bad(tensor, index, type, e);
                BinaryPrimitives.WriteSingleLittleEndian(buffer.GetSpan(4), f);
                buffer.Advance(4);
                return;
            case DataType.FP16 or DataType.BF16 or DataType.FP64:
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out double d)) throw Bad(tensor, index, type, e);
                WriteFloat(d, type, buffer);
                return;
            case DataType.UInt64:
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetUInt64(out ulong u)) throw Bad(tensor, index, type, e);
                BinaryPrimitives.WriteUInt64LittleEndian(buffer.GetSpan(8), u);
                buffer.Advance(8);
                return;
            default:
                if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long v) || !InRange(v, type)) throw Bad(tensor, index, type, e);
                WriteInt(v, type, buffer);
                return;
        }
    }

    private static bool InRange(long v, DataType t) => t switch
    {
        DataType.Int8 => v is >= sbyte.MinValue and <= sbyte.MaxValue,
        DataType.Int16 => v is >= short.MinValue and <= short.MaxValue,
        DataType.Int32 => v is >= int.MinValue and <= int.MaxValue,
        DataType.UInt8 => v is >= 0 and <= byte.MaxValue,
        DataType.UInt16 => v is >= 0 and <= ushort.MaxValue,
        DataType.UInt32 => v is >= 0 and <= uint.MaxValue,
        _ => true,
    };

    private static void WriteInt(long v, DataType t, Buffer b)
    {
        int size = t.ElementSize();
        var span = b.GetSpan(size);
        switch (size)
        {
            case 1: span[0] = (byte)v; break;
            case 2: BinaryPrimitives.WriteInt16LittleEndian(span, (short)v); break;
            case 4: BinaryPrimitives.WriteInt32LittleEndian(span, (int)v); break;
            default: BinaryPrimitives.WriteInt64LittleEndian(span, v); break;
        }
        b.Advance(size);
    }

    private static void WriteFloat(double d, DataType t, Buffer b)
    {
        switch (t)
        {
            case DataType.FP16: BinaryPrimitives.WriteHalfLittleEndian(b.GetSpan(2), (Half)d); b.Advance(2); break;
            case DataType.BF16: BinaryPrimitives.WriteUInt16LittleEndian(b.GetSpan(2), BFloat16.FromSingle((float)d)); b.Advance(2); break;
            case DataType.FP32: BinaryPrimitives.WriteSingleLittleEndian(b.GetSpan(4), (float)d); b.Advance(4); break;
            default: BinaryPrimitives.WriteDoubleLittleEndian(b.GetSpan(8), d); b.Advance(8); break;
        }
    }
}

/// <summary>bfloat16 ⇄ float: the top 16 bits of an IEEE single, rounded to nearest even.</summary>
public static class BFloat16
{
    public static ushort FromSingle(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    public static float ToSingle(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);
}
