namespace Tessera;

/// <summary>
/// Element type of a tensor. <see cref="Float16"/> and <see cref="BFloat16"/> are storage types: cast them to compute.
/// The integer types after Float16 (int8 ... uint64) exist for data interchange (ONNX, safetensors): cast, copy,
/// compare, elementwise arithmetic, min/max and reductions accept them; other kernels reject them with a dtype error.
/// New members go at the end so stored numeric values never change.
/// </summary>
public enum DType : byte
{
    Float32,
    Float64,
    Int32,
    Int64,
    UInt8,
    Bool,
    Float16,
    Int8,
    Int16,
    UInt16,
    UInt32,
    UInt64,
    BFloat16,
}

/// <summary>Facts about each <see cref="DType"/>.</summary>
public static class DTypes
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(this DType t) => t switch
    {
        DType.Float32 or DType.Int32 => 4,
        DType.Float64 or DType.Int64 => 8,
        DType.UInt8 or DType.Bool or DType.Int8 => 1,
        DType.Float16 or DType.Int16 or DType.UInt16 or DType.BFloat16 => 2,
        DType.UInt32 => 4,
        DType.UInt64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    public static bool IsFloatingPoint(this DType t) => t is DType.Float32 or DType.Float64 or DType.Float16 or DType.BFloat16;

    /// <summary>True for the integer dtypes (bool excluded).</summary>
    public static bool IsInteger(this DType t) =>
        t is DType.Int32 or DType.Int64 or DType.UInt8 or DType.Int8 or DType.Int16 or DType.UInt16 or DType.UInt32 or DType.UInt64;

    /// <summary>True for the unsigned integer dtypes.</summary>
    public static bool IsUnsigned(this DType t) => t is DType.UInt8 or DType.UInt16 or DType.UInt32 or DType.UInt64;

    /// <summary>The dtype that stores CLR type <typeparamref name="T"/>.</summary>
    public static DType Of<T>() where T : unmanaged
    {
        if (typeof(T) == typeof(float)) return DType.Float32;
        if (typeof(T) == typeof(double)) return DType.Float64;
        if (typeof(T) == typeof(int)) return DType.Int32;
        if (typeof(T) == typeof(long)) return DType.Int64;
        if (typeof(T) == typeof(byte)) return DType.UInt8;
        if (typeof(T) == typeof(bool)) return DType.Bool;
        if (typeof(T) == typeof(Half)) return DType.Float16;
        if (typeof(T) == typeof(sbyte)) return DType.Int8;
        if (typeof(T) == typeof(short)) return DType.Int16;
        if (typeof(T) == typeof(ushort)) return DType.UInt16;
        if (typeof(T) == typeof(uint)) return DType.UInt32;
        if (typeof(T) == typeof(ulong)) return DType.UInt64;
        if (typeof(T) == typeof(BFloat16)) return DType.BFloat16;
        throw new NotSupportedException($"No Tessera dtype stores {typeof(T).Name}.");
    }

    /// <summary>Lower-case name as NumPy spells it (float32, int64, bool ...).</summary>
    public static string Name(this DType t) => t switch
    {
        DType.Float32 => "float32",
        DType.Float64 => "float64",
        DType.Int32 => "int32",
        DType.Int64 => "int64",
        DType.UInt8 => "uint8",
        DType.Bool => "bool",
        DType.Float16 => "float16",
        DType.Int8 => "int8",
        DType.Int16 => "int16",
        DType.UInt16 => "uint16",
        DType.UInt32 => "uint32",
        DType.UInt64 => "uint64",
        DType.BFloat16 => "bfloat16",
        _ => t.ToString(),
    };
}
