namespace Tessera.Serving.Protocol;

/// <summary>The Open Inference Protocol's tensor element types (BF16 is Triton's addition).</summary>
public enum DataType : byte
{
    Bool, UInt8, UInt16, UInt32, UInt64, Int8, Int16, Int32, Int64, FP16, BF16, FP32, FP64, Bytes,
}

/// <summary>Names and sizes of <see cref="DataType"/> as the protocol spells them.</summary>
public static class DataTypes
{
    private static readonly string[] Names =
        ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "BF16", "FP32", "FP64", "BYTES"];

    /// <summary>The protocol name: <c>INT32</c>, <c>FP16</c>, <c>BYTES</c> ...</summary>
    public static string Name(this DataType t) => Names[(int)t];

    /// <summary>Bytes per element; 0 for variable-length <see cref="DataType.Bytes"/>.</summary>
    public static int ElementSize(this DataType t) => t switch
    {
        DataType.Bool or DataType.UInt8 or DataType.Int8 => 1,
        DataType.UInt16 or DataType.Int16 or DataType.FP16 or DataType.BF16 => 2,
        DataType.UInt32 or DataType.Int32 or DataType.FP32 => 4,
        DataType.UInt64 or DataType.Int64 or DataType.FP64 => 8,
        _ => 0,
    };

    public static bool TryParse(string? name, out DataType type)
    {
        int i = name is null ? -1 : Array.IndexOf(Names, name.ToUpperInvariant());
        type = i < 0 ? default : (DataType)i;
        return i >= 0;
    }

    /// <summary>Parses a protocol datatype or throws a 400 naming the tensor.</summary>
    public static DataType Parse(string? name, string tensor) =>
        TryParse(name, out var t) ? t : throw InferenceException.BadRequest(
            $"tensor '{tensor}' has unknown datatype '{name}'; expected one of {string.Join(", ", Names)}");

    /// <summary>Triton's model-config spelling (<c>TYPE_INT32</c>, <c>TYPE_STRING</c>) to the protocol's.</summary>
    public static bool TryParseConfig(string name, out DataType type)
    {
        string n = name.StartsWith("TYPE_", StringComparison.OrdinalIgnoreCase) ? name[5..] : name;
        if (n.Equals("STRING", StringComparison.OrdinalIgnoreCase)) n = "BYTES";
        return TryParse(n, out type);
    }
}
