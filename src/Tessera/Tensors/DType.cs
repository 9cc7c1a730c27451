namespace Tessera;

/// <summary>Element type of a tensor. <see cref="Float16"/> is a storage type: cast it to compute.</summary>
public enum DType : byte
{
    Float32,
    Float64,
    Int32,
    Int64,
    UInt8,
    Bool,
    Float16,
}

/// <summary>Facts about each <see cref="DType"/>.</summary>
public static class DTypes
{
    /// <summary>Bytes per element.</summary>
    public static int SizeOf(this DType t) => t switch
    {
        DType.Float32 or DType.Int32 => 4,
        DType.Float64 or DType.Int64 => 8,
        DType.UInt8 or DType.Bool => 1,
        DType.Float16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    public static bool IsFloatingPoint(this DType t) => t is DType.Float32 or DType.Float64 or DType.Float16;

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
        _ => t.ToString(),
    };
}
