using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Tessera.Serving.Protocol;

namespace Tessera.Serving.Tests;

// The JsonDocument-based request parser the server used before the streaming one (OipJsonRequestReader), kept
// verbatim as the reference the differential tests compare against. Not used by the server.

/// <summary>The old OipJson.ParseRequest.</summary>
internal static class LegacyOipJson
{
    public static InferRequest ParseRequest(ReadOnlyMemory<byte> body, long? headerLength, string model, string? version)
    {
        ReadOnlyMemory<byte> json = body, binary = ReadOnlyMemory<byte>.Empty;
        if (headerLength is long h)
        {
            if (h <= 0 || h > body.Length)
                throw InferenceException.BadRequest($"Inference-Header-Content-Length is {h} but the body has {body.Length} bytes");
            json = body[..(int)h];
            binary = body[(int)h..];
        }
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 64 }); }
        catch (JsonException e) { throw InferenceException.BadRequest($"malformed JSON in the request: {e.Message}"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw InferenceException.BadRequest("the request must be a JSON object");
            string? id = root.TryGetProperty("id", out var idEl) && idEl.ValueKind == JsonValueKind.String ? idEl.GetString() : null;
            bool binaryOut = false;
            TimeSpan? timeout = null;
            if (root.TryGetProperty("parameters", out var ps) && ps.ValueKind == JsonValueKind.Object)
            {
                binaryOut = Bool(ps, "binary_data_output");
                if (ps.TryGetProperty("timeout", out var t) && t.ValueKind == JsonValueKind.Number && t.TryGetInt64(out long us) && us > 0)
                    timeout = TimeSpan.FromMicroseconds(us);
            }
            if (!root.TryGetProperty("inputs", out var inputsEl) || inputsEl.ValueKind != JsonValueKind.Array)
                throw InferenceException.BadRequest("the request has no 'inputs' array");
            var inputs = new List<InferTensor>();
            int cursor = 0;
            foreach (var input in inputsEl.EnumerateArray())
            {
                if (input.ValueKind != JsonValueKind.Object) throw InferenceException.BadRequest("each entry of 'inputs' must be an object");
                string name = String(input, "name") ?? throw InferenceException.BadRequest($"input {inputs.Count} has no 'name'");
                var type = DataTypes.Parse(String(input, "datatype") ?? throw InferenceException.BadRequest($"input '{name}' has no 'datatype'"), name);
                long[] shape = Shape(input, name);
                long? binarySize = null;
                if (input.TryGetProperty("parameters", out var ip) && ip.ValueKind == JsonValueKind.Object &&
                    ip.TryGetProperty("binary_data_size", out var bs))
                {
                    if (bs.ValueKind != JsonValueKind.Number || !bs.TryGetInt64(out long size) || size < 0)
                        throw InferenceException.BadRequest($"input '{name}': binary_data_size must be a non-negative integer");
                    binarySize = size;
                }
                ReadOnlyMemory<byte> data;
                if (binarySize is long n)
                {
                    if (headerLength is null)
                        throw InferenceException.BadRequest($"input '{name}' has binary_data_size but the request has no Inference-Header-Content-Length header");
                    if (n > binary.Length - cursor)
                        throw InferenceException.BadRequest($"input '{name}': binary_data_size {n} runs past the end of the body ({binary.Length - cursor} bytes remain)");
                    data = binary.Slice(cursor, (int)n);
                    cursor += (int)n;
                }
                else
                {
                    if (!input.TryGetProperty("data", out var dataEl))
                        throw InferenceException.BadRequest($"input '{name}' has neither 'data' nor a binary_data_size parameter");
                    long expected = ElementCount(shape, name);
                    // Sized from the shape, but never past what the body could hold (a number and a comma each): a
                    // claimed shape of a billion elements must not allocate before the count check refuses it.
                    data = LegacyJsonTensorReader.Read(dataEl, type, name, out long count, Math.Min(expected, json.Length / 2 + 1));
                    if (count != expected)
                        throw InferenceException.BadRequest($"input '{name}' has shape [{string.Join(",", shape)}] ({expected} elements) but its data holds {count}");
                }
                var tensor = new InferTensor(name, type, shape, data);
                tensor.Validate();
                inputs.Add(tensor);
            }
            if (cursor != binary.Length)
                throw InferenceException.BadRequest($"{binary.Length - cursor} bytes after the JSON header belong to no input (binary_data_size values add up to {cursor})");
            List<RequestedOutput>? outputs = null;
            if (root.TryGetProperty("outputs", out var outsEl) && outsEl.ValueKind == JsonValueKind.Array)
            {
                outputs = [];
                foreach (var o in outsEl.EnumerateArray())
                {
                    string name = (o.ValueKind == JsonValueKind.Object ? String(o, "name") : null) ?? throw InferenceException.BadRequest("each entry of 'outputs' needs a 'name'");
                    bool bin = o.TryGetProperty("parameters", out var op) && op.ValueKind == JsonValueKind.Object && op.TryGetProperty("binary_data", out _)
                        ? Bool(op, "binary_data") : binaryOut;
                    outputs.Add(new RequestedOutput(name, bin));
                }
            }
            return new InferRequest { ModelName = model, ModelVersion = version, Id = id, Inputs = inputs, Outputs = outputs, BinaryOutputs = binaryOut, Timeout = timeout };
        }
    }

    private static long ElementCount(long[] shape, string name)
    {
        try { return InferTensor.ElementCountOf(shape); }
        catch (OverflowException) { throw InferenceException.BadRequest($"input '{name}' shape is too large"); }
    }

    private static string? String(JsonElement o, string property) =>
        o.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool Bool(JsonElement o, string property) =>
        o.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.True;

    private static long[] Shape(JsonElement input, string name)
    {
        if (!input.TryGetProperty("shape", out var s) || s.ValueKind != JsonValueKind.Array)
            throw InferenceException.BadRequest($"input '{name}' has no 'shape' array");
        var shape = new long[s.GetArrayLength()];
        int i = 0;
        foreach (var d in s.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0)
                throw InferenceException.BadRequest($"input '{name}' shape must hold non-negative integers, got {d.GetRawText()}");
            shape[i++] = v;
        }
        return shape;
    }
}

/// <summary>The old JsonTensorReader.</summary>
internal static class LegacyJsonTensorReader
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
            case DataType.BF16: BinaryPrimitives.WriteUInt16LittleEndian(b.GetSpan(2), Tessera.Serving.Protocol.BFloat16.FromSingle((float)d)); b.Advance(2); break;
            case DataType.FP32: BinaryPrimitives.WriteSingleLittleEndian(b.GetSpan(4), (float)d); b.Advance(4); break;
            default: BinaryPrimitives.WriteDoubleLittleEndian(b.GetSpan(8), d); b.Advance(8); break;
        }
    }
}
