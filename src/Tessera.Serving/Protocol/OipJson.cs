using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Tessera.Serving.Protocol;

/// <summary>
/// The REST inference request and response bodies of the Open Inference Protocol, with the binary tensor
/// extension: a JSON header of <c>Inference-Header-Content-Length</c> bytes followed by the tensors whose
/// <c>binary_data_size</c> parameter says so, in order.
/// </summary>
public static class OipJson
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
                    data = JsonTensorReader.Read(dataEl, type, name, out long count, Math.Min(expected, json.Length / 2 + 1));
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

    internal static long ElementCount(long[] shape, string name)
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

    /// <summary>
    /// Writes the response: JSON, then the binary outputs in order. Returns the JSON header's length when any
    /// output is binary (for the Inference-Header-Content-Length header), else null.
    /// </summary>
    public static int? WriteResponse(InferResponse response, InferRequest request, ArrayBufferWriter<byte> buffer)
    {
        var binary = new List<InferTensor>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model_name", response.ModelName);
            w.WriteString("model_version", response.ModelVersion);
            if (response.Id is not null) w.WriteString("id", response.Id);
            w.WriteStartArray("outputs");
            foreach (var o in response.Outputs)
            {
                bool asBinary = request.Outputs?.FirstOrDefault(r => r.Name == o.Name)?.Binary ?? request.BinaryOutputs;
                w.WriteStartObject();
                w.WriteString("name", o.Name);
                w.WriteString("datatype", o.DataType.Name());
                w.WriteStartArray("shape");
                foreach (var d in o.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                if (asBinary)
                {
                    w.WriteStartObject("parameters");
                    w.WriteNumber("binary_data_size", o.Data.Length);
                    w.WriteEndObject();
                    binary.Add(o);
                }
                else
                {
                    w.WritePropertyName("data");
                    WriteData(w, o);
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        if (binary.Count == 0) return null;
        int header = buffer.WrittenCount;
        foreach (var o in binary) buffer.Write(o.Data.Span);
        return header;
    }

    /// <summary>Writes a tensor's elements as a flat JSON array.</summary>
    public static void WriteData(Utf8JsonWriter w, InferTensor t)
    {
        w.WriteStartArray();
        WriteElements(w, t, 0, (int)t.ElementCount);
        w.WriteEndArray();
    }

    /// <summary>Writes elements [start, start+count) of a tensor as JSON values.</summary>
    public static void WriteElements(Utf8JsonWriter w, InferTensor t, int start, int count)
    {
        var s = t.Data.Span;
        int size = t.DataType.ElementSize();
        if (t.DataType == DataType.Bytes)
        {
            int offset = 0, index = 0;
            while (offset < s.Length && index < start + count)
            {
                int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(s[offset..]);
                if (index >= start) w.WriteStringValue(Encoding.UTF8.GetString(s.Slice(offset + 4, len)));
                offset += 4 + len;
                index++;
            }
            return;
        }
        for (int i = start; i < start + count; i++)
        {
            var e = s.Slice(i * size, size);
            switch (t.DataType)
            {
                case DataType.Bool: w.WriteBooleanValue(e[0] != 0); break;
                case DataType.UInt8: w.WriteNumberValue(e[0]); break;
                case DataType.Int8: w.WriteNumberValue((sbyte)e[0]); break;
                case DataType.UInt16: w.WriteNumberValue(BinaryPrimitives.ReadUInt16LittleEndian(e)); break;
                case DataType.Int16: w.WriteNumberValue(BinaryPrimitives.ReadInt16LittleEndian(e)); break;
                case DataType.UInt32: w.WriteNumberValue(BinaryPrimitives.ReadUInt32LittleEndian(e)); break;
                case DataType.Int32: w.WriteNumberValue(BinaryPrimitives.ReadInt32LittleEndian(e)); break;
                case DataType.UInt64: w.WriteNumberValue(BinaryPrimitives.ReadUInt64LittleEndian(e)); break;
                case DataType.Int64: w.WriteNumberValue(BinaryPrimitives.ReadInt64LittleEndian(e)); break;
                case DataType.FP16: Float(w, (float)BinaryPrimitives.ReadHalfLittleEndian(e)); break;
                case DataType.BF16: Float(w, BFloat16.ToSingle(BinaryPrimitives.ReadUInt16LittleEndian(e))); break;
                case DataType.FP32: Float(w, BinaryPrimitives.ReadSingleLittleEndian(e)); break;
                case DataType.FP64:
                    double d = BinaryPrimitives.ReadDoubleLittleEndian(e);
                    if (double.IsFinite(d)) w.WriteNumberValue(d); else w.WriteStringValue(d.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    break;
            }
        }
    }

    // JSON has no NaN or infinity; they go out as the strings "NaN", "Infinity", "-Infinity".
    private static void Float(Utf8JsonWriter w, float f)
    {
        if (float.IsFinite(f)) w.WriteNumberValue(f);
        else w.WriteStringValue(f.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    public static byte[] Error(string message)
    {
        var buffer = new ArrayBufferWriter<byte>(64 + message.Length);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("error", message);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }
}
