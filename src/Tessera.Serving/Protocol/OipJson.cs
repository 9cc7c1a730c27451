using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Unicode;

namespace Tessera.Serving.Protocol;

/// <summary>
/// The REST inference request and response bodies of the Open Inference Protocol, with the binary tensor
/// extension: a JSON header of <c>Inference-Header-Content-Length</c> bytes followed by the tensors whose
/// <c>binary_data_size</c> parameter says so, in order.
/// </summary>
public static class OipJson
{
    /// <summary>
    /// Parses a REST inference request: JSON, or with <paramref name="headerLength"/> a JSON header followed by binary
    /// tensors. Decoded tensors live in <paramref name="rented"/> (pooled) when given; binary ones are slices of the body.
    /// </summary>
    public static InferRequest ParseRequest(ReadOnlyMemory<byte> body, long? headerLength, string model, string? version, RentedBuffers? rented = null) =>
        OipJsonRequestReader.Parse(new ReadOnlySequence<byte>(body), headerLength, model, version, rented);

    /// <summary>The same over a body in several segments (as a pipe delivers it).</summary>
    public static InferRequest ParseRequest(ReadOnlySequence<byte> body, long? headerLength, string model, string? version, RentedBuffers? rented = null) =>
        OipJsonRequestReader.Parse(body, headerLength, model, version, rented);

    internal static long ElementCount(long[] shape, string name)
    {
        try { return InferTensor.ElementCountOf(shape); }
        catch (OverflowException) { throw InferenceException.BadRequest($"input '{name}' shape is too large"); }
    }

    /// <summary>
    /// Writes the response: JSON, then the binary outputs in order. Returns the JSON header's length when any
    /// output is binary (for the Inference-Header-Content-Length header), else null.
    /// </summary>
    public static int? WriteResponse(InferResponse response, InferRequest request, ArrayBufferWriter<byte> buffer)
    {
        List<InferTensor>? binary = null;
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("model_name", response.ModelName);
            w.WriteString("model_version", response.ModelVersion);
            if (response.Id is not null) w.WriteString("id", response.Id);
            w.WriteStartArray("outputs");
            foreach (var o in response.Outputs)
            {
                bool asBinary = WantsBinary(request, o.Name);
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
                    (binary ??= []).Add(o);
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
        if (binary is null) return null;
        int header = buffer.WrittenCount;
        foreach (var o in binary) buffer.Write(o.Data.Span);
        return header;
    }

    private static bool WantsBinary(InferRequest request, string output)
    {
        if (request.Outputs is { } requested)
            foreach (var r in requested)
                if (r.Name == output) return r.Binary;
        return request.BinaryOutputs;
    }

    /// <summary>Writes a tensor's elements as a flat JSON array.</summary>
    public static void WriteData(Utf8JsonWriter w, InferTensor t)
    {
        w.WriteStartArray();
        WriteElements(w, t, 0, (int)t.ElementCount);
        w.WriteEndArray();
    }

    /// <summary>Writes elements [start, start+count) of a tensor as JSON values.</summary>
    /// <remarks>One typed loop per datatype (not a switch per element); nothing is allocated per element.</remarks>
    public static void WriteElements(Utf8JsonWriter w, InferTensor t, int start, int count)
    {
        var s = t.Data.Span;
        switch (t.DataType)
        {
            case DataType.Bytes: WriteStrings(w, s, start, count); break;
            case DataType.Bool: foreach (var v in s.Slice(start, count)) w.WriteBooleanValue(v != 0); break;
            case DataType.UInt8: foreach (var v in s.Slice(start, count)) w.WriteNumberValue(v); break;
            case DataType.Int8: foreach (var v in Elements<sbyte>(s, start, count)) w.WriteNumberValue(v); break;
            case DataType.UInt16: foreach (var v in Elements<ushort>(s, start, count)) w.WriteNumberValue(v); break;
            case DataType.Int16: foreach (var v in Elements<short>(s, start, count)) w.WriteNumberValue(v); break;
            case DataType.UInt32: foreach (var v in Elements<uint>(s, start, count)) w.WriteNumberValue(v); break;
            case DataType.Int32: foreach (var v in Elements<int>(s, start, count)) w.WriteNumberValue(v); break;
            case DataType.UInt64: foreach (var v in Elements<ulong>(s, start, count)) w.WriteNumberValue(v); break;
            case DataType.Int64: foreach (var v in Elements<long>(s, start, count)) w.WriteNumberValue(v); break;
            case DataType.FP16: foreach (var v in Elements<Half>(s, start, count)) Float(w, (float)v); break;
            case DataType.BF16: foreach (var v in Elements<ushort>(s, start, count)) Float(w, BFloat16.ToSingle(v)); break;
            case DataType.FP32: foreach (var v in Elements<float>(s, start, count)) Float(w, v); break;
            case DataType.FP64:
                foreach (var v in Elements<double>(s, start, count))
                    if (double.IsFinite(v)) w.WriteNumberValue(v); else w.WriteStringValue(NonFinite(v));
                break;
        }
    }

    // Tensor bytes are little-endian, as is every machine .NET serves on.
    private static ReadOnlySpan<T> Elements<T>(ReadOnlySpan<byte> s, int start, int count) where T : unmanaged =>
        MemoryMarshal.Cast<byte, T>(s).Slice(start, count);

    private static void WriteStrings(Utf8JsonWriter w, ReadOnlySpan<byte> s, int start, int count)
    {
        int offset = 0, index = 0;
        while (offset < s.Length && index < start + count)
        {
            int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(s[offset..]);
            var e = s.Slice(offset + 4, len);
            // Written as UTF-8 directly when it is UTF-8; other bytes go through a string (invalid sequences become U+FFFD).
            if (index >= start)
            {
                if (Utf8.IsValid(e)) w.WriteStringValue(e);
                else w.WriteStringValue(Encoding.UTF8.GetString(e));
            }
            offset += 4 + len;
            index++;
        }
    }

    // JSON has no NaN or infinity; they go out as the strings "NaN", "Infinity", "-Infinity".
    private static void Float(Utf8JsonWriter w, float f)
    {
        if (float.IsFinite(f)) w.WriteNumberValue(f);
        else w.WriteStringValue(NonFinite(f));
    }

    private static string NonFinite(double d) => double.IsNaN(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity";

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
