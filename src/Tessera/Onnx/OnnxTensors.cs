using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Tessera.Onnx.Proto;

namespace Tessera.Onnx;

/// <summary>Conversion between ONNX <see cref="TensorProto"/> messages and Tessera tensors, with every size checked first.</summary>
public static class OnnxTensors
{
    /// <summary>The largest tensor a model file may declare (elements); guards against corrupted dims.</summary>
    public const long MaxElements = 1L << 30;

    /// <summary>The Tessera dtype for an ONNX element type; throws naming the ONNX type when there is none.</summary>
    public static DType ToDType(int onnxType, string what) => (TensorProto.Types.DataType)onnxType switch
    {
        TensorProto.Types.DataType.Float => DType.Float32,
        TensorProto.Types.DataType.Double => DType.Float64,
        TensorProto.Types.DataType.Int32 => DType.Int32,
        TensorProto.Types.DataType.Int64 => DType.Int64,
        TensorProto.Types.DataType.Uint8 => DType.UInt8,
        TensorProto.Types.DataType.Bool => DType.Bool,
        TensorProto.Types.DataType.Float16 => DType.Float16,
        TensorProto.Types.DataType.Int8 => DType.Int8,
        TensorProto.Types.DataType.Int16 => DType.Int16,
        TensorProto.Types.DataType.Uint16 => DType.UInt16,
        TensorProto.Types.DataType.Uint32 => DType.UInt32,
        TensorProto.Types.DataType.Uint64 => DType.UInt64,
        TensorProto.Types.DataType.Bfloat16 => DType.BFloat16,
        var t when Enum.IsDefined(t) => throw new OnnxUnsupportedException($"{what}: ONNX element type {t} is not supported (float, double, float16, bfloat16, int8-64, uint8-64, bool)."),
        _ => throw new OnnxFormatException($"{what}: {onnxType} is not an ONNX element type."),
    };

    public static int FromDType(DType t) => (int)(t switch
    {
        DType.Float32 => TensorProto.Types.DataType.Float,
        DType.Float64 => TensorProto.Types.DataType.Double,
        DType.Int32 => TensorProto.Types.DataType.Int32,
        DType.Int64 => TensorProto.Types.DataType.Int64,
        DType.UInt8 => TensorProto.Types.DataType.Uint8,
        DType.Bool => TensorProto.Types.DataType.Bool,
        DType.Float16 => TensorProto.Types.DataType.Float16,
        DType.Int8 => TensorProto.Types.DataType.Int8,
        DType.Int16 => TensorProto.Types.DataType.Int16,
        DType.UInt16 => TensorProto.Types.DataType.Uint16,
        DType.UInt32 => TensorProto.Types.DataType.Uint32,
        DType.UInt64 => TensorProto.Types.DataType.Uint64,
        DType.BFloat16 => TensorProto.Types.DataType.Bfloat16,
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    });

    /// <summary>Checked shape of a tensor message: non-negative dims and at most <see cref="MaxElements"/> elements.</summary>
    internal static int[] Shape(TensorProto t, string what)
    {
        var shape = new int[t.Dims.Count];
        long count = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            long d = t.Dims[i];
            if (d < 0 || d > MaxElements) throw new OnnxFormatException($"{what}: dimension {i} is {d}.");
            count *= d;
            if (count > MaxElements) throw new OnnxFormatException($"{what}: dims ({string.Join(", ", t.Dims)}) describe more than {MaxElements} elements.");
            shape[i] = (int)d;
        }
        return shape;
    }

    /// <summary>Reads a TensorProto file (the format of the ONNX test data: input_0.pb, output_0.pb).</summary>
    public static Tensor ReadFile(string path)
    {
        var bytes = OnnxModelReader.ReadAllBytesChecked(path);
        TensorProto proto;
        try { proto = TensorProto.Parser.ParseFrom(bytes); }
        catch (InvalidProtocolBufferException e) { throw new OnnxFormatException($"{path} is not an ONNX TensorProto: {e.Message}", e); }
        return ToTensor(proto, Path.GetDirectoryName(Path.GetFullPath(path)), path);
    }

    /// <summary>
    /// Reads a test-data file of the given kind: a TensorProto, a SequenceProto of tensors, or an OptionalProto of a
    /// tensor or such a sequence (how the ONNX test data stores sequence and optional inputs and outputs). An empty
    /// sequence or optional takes its element dtype from <paramref name="elementDType"/> (the model's declaration).
    /// </summary>
    public static object ReadValueFile(string path, Graphs.ValueKind kind, DType elementDType)
    {
        if (kind == Graphs.ValueKind.Tensor) return ReadFile(path);
        var bytes = OnnxModelReader.ReadAllBytesChecked(path);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        try
        {
            if (kind == Graphs.ValueKind.Sequence) return ToSequence(SequenceProto.Parser.ParseFrom(bytes), dir, elementDType, path);
            var o = OptionalProto.Parser.ParseFrom(bytes);
            bool ofSequence = kind == Graphs.ValueKind.OptionalSequence;
            return o.ElemType switch
            {
                (int)OptionalProto.Types.DataType.Undefined => Graphs.OptionalValue.Empty(elementDType, ofSequence),
                (int)OptionalProto.Types.DataType.Tensor when o.TensorValue is { } t && !ofSequence => new Graphs.OptionalValue(ToTensor(t, dir, path)),
                (int)OptionalProto.Types.DataType.Sequence when o.SequenceValue is { } sq && ofSequence => new Graphs.OptionalValue(ToSequence(sq, dir, elementDType, path)),
                _ => throw new OnnxFormatException($"{path}: an optional of element type {o.ElemType} where {kind} is declared."),
            };
        }
        catch (InvalidProtocolBufferException e) { throw new OnnxFormatException($"{path} is not an ONNX {kind} value: {e.Message}", e); }
    }

    private static Graphs.TensorSequence ToSequence(SequenceProto s, string? dir, DType elementDType, string what)
    {
        if (s.ElemType is not ((int)SequenceProto.Types.DataType.Tensor or (int)SequenceProto.Types.DataType.Undefined) || s.SparseTensorValues.Count + s.OptionalValues.Count > 0)
            throw new OnnxUnsupportedException($"{what}: sequences of element type {s.ElemType} are not supported (sequences of tensors are).");
        var items = s.TensorValues.Select(t => ToTensor(t, dir, what)).ToArray();
        return new Graphs.TensorSequence(items.Length > 0 ? items[0].DType : elementDType, items);
    }

    /// <summary>Writes a tensor, <see cref="Graphs.TensorSequence"/> or <see cref="Graphs.OptionalValue"/> as a TensorProto, SequenceProto or OptionalProto file.</summary>
    public static void WriteValueFile(object value, string name, string path)
    {
        using var f = File.Create(path);
        switch (value)
        {
            case Tensor t: FromTensor(t, name).WriteTo(f); break;
            case Graphs.TensorSequence s: ToProto(s, name).WriteTo(f); break;
            case Graphs.OptionalValue o:
                var p = new OptionalProto { Name = name, ElemType = (int)OptionalProto.Types.DataType.Undefined };
                if (o.Element is Tensor ot) { p.ElemType = (int)OptionalProto.Types.DataType.Tensor; p.TensorValue = FromTensor(ot, name); }
                else if (o.Element is Graphs.TensorSequence os) { p.ElemType = (int)OptionalProto.Types.DataType.Sequence; p.SequenceValue = ToProto(os, name); }
                p.WriteTo(f);
                break;
            default: throw new ArgumentException($"{name}: {value.GetType().Name} is no ONNX value.");
        }
    }

    private static SequenceProto ToProto(Graphs.TensorSequence s, string name)
    {
        var p = new SequenceProto { Name = name, ElemType = (int)SequenceProto.Types.DataType.Tensor };
        p.TensorValues.AddRange(s.Select(t => FromTensor(t, "")));
        return p;
    }

    /// <summary>Writes a tensor as a TensorProto file.</summary>
    public static void WriteFile(Tensor t, string name, string path)
    {
        using var f = File.Create(path);
        FromTensor(t, name).WriteTo(f);
    }

    /// <summary>
    /// The tensor a message holds: raw_data, the typed fields, or external data in a file beside the model
    /// (<paramref name="baseDirectory"/>). Sizes are checked against the dims before anything is allocated.
    /// </summary>
    public static Tensor ToTensor(TensorProto t, string? baseDirectory, string? what = null)
    {
        what ??= string.IsNullOrEmpty(t.Name) ? "tensor" : $"tensor '{t.Name}'";
        var dtype = ToDType(t.DataType, what);
        var shape = Shape(t, what);
        int count = ShapeMath.Count(shape);
        int size = dtype.SizeOf();

        ReadOnlySpan<byte> raw = default;
        byte[]? external = null;
        if (t.DataLocation == TensorProto.Types.DataLocation.External)
        {
            external = ReadExternal(t, baseDirectory, (long)count * size, what);
            raw = external;
        }
        else if (!t.RawData.IsEmpty || count == 0 && TypedCount(t) == 0) raw = t.RawData.Span;

        var result = Tensor.Empty(dtype, shape);
        if (!raw.IsEmpty || count == 0)
        {
            if (raw.Length != (long)count * size)
                throw new OnnxFormatException($"{what}: {raw.Length} bytes of data for {count} {dtype.Name()} elements of shape {ShapeMath.Format(shape)}.");
            CopyLittleEndian(raw, result, dtype);
            return result;
        }

        int typed = TypedCount(t);
        if (typed != count)
            throw new OnnxFormatException($"{what}: {typed} values for shape {ShapeMath.Format(shape)} ({count} elements).");
        switch (dtype)
        {
            case DType.Float32: t.FloatData.CopyTo(result.Data<float>(), 0); break;
            case DType.Float64: t.DoubleData.CopyTo(result.Data<double>(), 0); break;
            case DType.Int64: t.Int64Data.CopyTo(result.Data<long>(), 0); break;
            case DType.Int32: t.Int32Data.CopyTo(result.Data<int>(), 0); break;
            case DType.UInt8: { var d = result.Data<byte>(); for (int i = 0; i < count; i++) d[i] = (byte)t.Int32Data[i]; break; }
            case DType.Bool: { var d = result.Data<bool>(); for (int i = 0; i < count; i++) d[i] = t.Int32Data[i] != 0; break; }
            case DType.Float16: { var d = result.Data<Half>(); for (int i = 0; i < count; i++) d[i] = BitConverter.UInt16BitsToHalf((ushort)t.Int32Data[i]); break; }
            // The narrow integers travel in int32_data, uint32/uint64 in uint64_data (onnx.proto's field comments).
            case DType.Int8: { var d = result.Data<sbyte>(); for (int i = 0; i < count; i++) d[i] = (sbyte)t.Int32Data[i]; break; }
            case DType.Int16: { var d = result.Data<short>(); for (int i = 0; i < count; i++) d[i] = (short)t.Int32Data[i]; break; }
            case DType.UInt16: { var d = result.Data<ushort>(); for (int i = 0; i < count; i++) d[i] = (ushort)t.Int32Data[i]; break; }
            case DType.UInt32: { var d = result.Data<uint>(); for (int i = 0; i < count; i++) d[i] = (uint)t.Uint64Data[i]; break; }
            case DType.UInt64: t.Uint64Data.CopyTo(result.Data<ulong>(), 0); break;
            case DType.BFloat16: { var d = result.Data<BFloat16>(); for (int i = 0; i < count; i++) d[i] = BFloat16.FromBits((ushort)t.Int32Data[i]); break; }
            default: throw new OnnxUnsupportedException($"{what}: typed data of dtype {dtype.Name()} is not supported.");
        }
        return result;
    }

    private static int TypedCount(TensorProto t) =>
        t.FloatData.Count + t.DoubleData.Count + t.Int32Data.Count + t.Int64Data.Count + t.Uint64Data.Count + t.StringData.Count;

    private static void CopyLittleEndian(ReadOnlySpan<byte> raw, Tensor result, DType dtype)
    {
        var dst = MemoryMarshal.AsBytes(dtype switch
        {
            DType.Float32 => MemoryMarshal.AsBytes(result.AsSpan<float>()),
            DType.Float64 => MemoryMarshal.AsBytes(result.AsSpan<double>()),
            DType.Int32 => MemoryMarshal.AsBytes(result.AsSpan<int>()),
            DType.Int64 => MemoryMarshal.AsBytes(result.AsSpan<long>()),
            DType.UInt8 => result.AsSpan<byte>(),
            DType.Bool => MemoryMarshal.AsBytes(result.AsSpan<bool>()),
            DType.Float16 => MemoryMarshal.AsBytes(result.AsSpan<Half>()),
            DType.Int8 => MemoryMarshal.AsBytes(result.AsSpan<sbyte>()),
            DType.Int16 => MemoryMarshal.AsBytes(result.AsSpan<short>()),
            DType.UInt16 => MemoryMarshal.AsBytes(result.AsSpan<ushort>()),
            DType.UInt32 => MemoryMarshal.AsBytes(result.AsSpan<uint>()),
            DType.UInt64 => MemoryMarshal.AsBytes(result.AsSpan<ulong>()),
            DType.BFloat16 => MemoryMarshal.AsBytes(result.AsSpan<BFloat16>()),
            _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
        });
        raw.CopyTo(dst);
        if (dtype == DType.Bool) foreach (ref var b in dst) b = b != 0 ? (byte)1 : (byte)0;
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw data is little-endian.");
    }

    private static byte[] ReadExternal(TensorProto t, string? baseDirectory, long expected, string what)
    {
        string? location = null; long offset = 0, length = -1;
        foreach (var e in t.ExternalData)
        {
            switch (e.Key)
            {
                case "location": location = e.Value; break;
                case "offset": if (!long.TryParse(e.Value, out offset) || offset < 0) throw new OnnxFormatException($"{what}: external data offset '{e.Value}' is not a valid offset."); break;
                case "length": if (!long.TryParse(e.Value, out length) || length < 0) throw new OnnxFormatException($"{what}: external data length '{e.Value}' is not a valid length."); break;
            }
        }
        if (string.IsNullOrEmpty(location)) throw new OnnxFormatException($"{what}: external data has no location.");
        if (baseDirectory is null) throw new OnnxFormatException($"{what}: external data '{location}' needs the model's directory (load the model from a file).");
        var root = Path.GetFullPath(baseDirectory);
        var file = Path.GetFullPath(Path.Combine(root, location));
        if (!file.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new OnnxFormatException($"{what}: external data location '{location}' points outside the model's directory.");
        if (!File.Exists(file)) throw new OnnxFormatException($"{what}: external data file '{location}' does not exist beside the model.");
        if (length < 0) length = expected;
        if (length != expected) throw new OnnxFormatException($"{what}: external data length {length} differs from the {expected} bytes its dims need.");
        using var fs = File.OpenRead(file);
        if (offset + length > fs.Length)
            throw new OnnxFormatException($"{what}: external data [{offset}, {offset + length}) lies beyond the end of '{location}' ({fs.Length} bytes).");
        var buffer = new byte[length];
        fs.Position = offset;
        fs.ReadExactly(buffer);
        return buffer;
    }

    /// <summary>A TensorProto holding <paramref name="t"/> as raw little-endian data.</summary>
    public static TensorProto FromTensor(Tensor t, string name)
    {
        var proto = new TensorProto { Name = name, DataType = FromDType(t.DType) };
        foreach (var d in t.Shape) proto.Dims.Add(d);
        var c = t.Contiguous();
        ReadOnlySpan<byte> bytes = c.DType switch
        {
            DType.Float32 => MemoryMarshal.AsBytes(c.AsSpan<float>()),
            DType.Float64 => MemoryMarshal.AsBytes(c.AsSpan<double>()),
            DType.Int32 => MemoryMarshal.AsBytes(c.AsSpan<int>()),
            DType.Int64 => MemoryMarshal.AsBytes(c.AsSpan<long>()),
            DType.UInt8 => c.AsSpan<byte>(),
            DType.Bool => MemoryMarshal.AsBytes(c.AsSpan<bool>()),
            DType.Float16 => MemoryMarshal.AsBytes(c.AsSpan<Half>()),
            DType.Int8 => MemoryMarshal.AsBytes(c.AsSpan<sbyte>()),
            DType.Int16 => MemoryMarshal.AsBytes(c.AsSpan<short>()),
            DType.UInt16 => MemoryMarshal.AsBytes(c.AsSpan<ushort>()),
            DType.UInt32 => MemoryMarshal.AsBytes(c.AsSpan<uint>()),
            DType.UInt64 => MemoryMarshal.AsBytes(c.AsSpan<ulong>()),
            DType.BFloat16 => MemoryMarshal.AsBytes(c.AsSpan<BFloat16>()),
            _ => throw new ArgumentOutOfRangeException(nameof(t)),
        };
        proto.RawData = ByteString.CopyFrom(bytes);
        return proto;
    }
}
