using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Tessera.Nn;

/// <summary>
/// The safetensors format: an 8-byte little-endian header length, a JSON header mapping each name to dtype, shape
/// and [begin, end) byte offsets into the data section, then the raw little-endian tensor bytes.
/// </summary>
public static class SafeTensors
{
    private static string Code(DType t) => t switch
    {
        DType.Float32 => "F32", DType.Float64 => "F64", DType.Int32 => "I32", DType.Int64 => "I64",
        DType.UInt8 => "U8", DType.Bool => "BOOL", DType.Float16 => "F16", DType.Int8 => "I8", DType.Int16 => "I16",
        DType.UInt16 => "U16", DType.UInt32 => "U32", DType.UInt64 => "U64", DType.BFloat16 => "BF16", _ => throw new NotSupportedException(t.ToString()),
    };

    private static DType FromCode(string c, string name) => c switch
    {
        "F32" => DType.Float32, "F64" => DType.Float64, "I32" => DType.Int32, "I64" => DType.Int64,
        "U8" => DType.UInt8, "BOOL" => DType.Bool, "F16" => DType.Float16, "I8" => DType.Int8, "I16" => DType.Int16,
        "U16" => DType.UInt16, "U32" => DType.UInt32, "U64" => DType.UInt64, "BF16" => DType.BFloat16,
        _ => throw new InvalidDataException($"safetensors: tensor '{name}' has unsupported dtype '{c}'."),
    };

    public static void Write(Stream stream, IEnumerable<(string Name, Tensor Value)> tensors)
    {
        var list = tensors.Select(t => (t.Name, Value: t.Value.Contiguous())).ToList();
        var header = new JsonObject();
        long offset = 0;
        foreach (var (name, value) in list)
        {
            long bytes = (long)value.Length * value.DType.SizeOf();
            header[name] = new JsonObject
            {
                ["dtype"] = Code(value.DType),
                ["shape"] = new JsonArray([.. value.ShapeArray().Select(d => (JsonNode)d)]),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)json.Length);
        stream.Write(len);
        stream.Write(json);
        foreach (var (_, value) in list)
        {
            int es = value.DType.SizeOf();
            var bytes = new byte[value.Length * es];
            Buffer.BlockCopy(value.Storage.Array, value.Offset * es, bytes, 0, bytes.Length);
            stream.Write(bytes);
        }
    }

    public static Dictionary<string, Tensor> Read(byte[] file, string source)
    {
        if (file.Length < 8) throw new InvalidDataException($"{source}: too short for a safetensors file ({file.Length} bytes).");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerLength > (ulong)(file.Length - 8)) throw new InvalidDataException($"{source}: header length {headerLength} runs past the end of the file.");
        JsonObject header;
        try { header = JsonNode.Parse(file.AsSpan(8, (int)headerLength))?.AsObject() ?? throw new InvalidDataException($"{source}: empty header."); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: the header is not valid JSON ({e.Message}).", e); }
        int dataStart = 8 + (int)headerLength;
        var result = new Dictionary<string, Tensor>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__") continue;
            try
            {
                var dtype = FromCode(node!["dtype"]!.GetValue<string>(), name);
                var shape = node["shape"]!.AsArray().Select(d => d!.GetValue<int>()).ToArray();
                var offsets = node["data_offsets"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
                long expected = (long)ShapeMath.Count(shape) * dtype.SizeOf();
                if (offsets.Length != 2 || offsets[1] - offsets[0] != expected || offsets[0] < 0 || dataStart + offsets[1] > file.Length)
                    throw new InvalidDataException($"{source}: tensor '{name}' has offsets [{string.Join(", ", offsets)}] that do not hold {ShapeMath.Format(shape)} {dtype.Name()}.");
                var t = Tensor.Zeros(dtype, shape);
                Buffer.BlockCopy(file, dataStart + (int)offsets[0], t.Storage.Array, 0, (int)expected);
                result[name] = t;
            }
            catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{source}: tensor '{name}' has a malformed header entry.", e);
            }
        }
        return result;
    }
}
