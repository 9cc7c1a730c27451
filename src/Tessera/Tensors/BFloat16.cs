namespace Tessera;

/// <summary>
/// bfloat16: the upper 16 bits of an IEEE float32 (8 exponent bits, 7 mantissa bits). A storage type like
/// <see cref="Half"/>: cast it to float32 to compute. Narrowing truncates the low mantissa bits (round toward zero),
/// as the ONNX reference implementation and its backend test data do; NaN stays NaN.
/// </summary>
public readonly struct BFloat16 : IEquatable<BFloat16>
{
    public ushort Bits { get; }

    private BFloat16(ushort bits) => Bits = bits;

    public static BFloat16 FromBits(ushort bits) => new(bits);

    public static explicit operator BFloat16(float v)
    {
        uint u = BitConverter.SingleToUInt32Bits(v);
        // A NaN whose payload sits only in the dropped bits would truncate to infinity: keep it a quiet NaN.
        if (float.IsNaN(v)) return new((ushort)((u >> 16) | 0x0040));
        return new((ushort)(u >> 16));
    }

    public static explicit operator float(BFloat16 v) => BitConverter.UInt32BitsToSingle((uint)v.Bits << 16);
    public static explicit operator double(BFloat16 v) => (float)v;
    public static explicit operator BFloat16(double v) => (BFloat16)(float)v;

    public bool Equals(BFloat16 other) => Bits == other.Bits;
    public override bool Equals(object? obj) => obj is BFloat16 b && Equals(b);
    public override int GetHashCode() => Bits;
    public override string ToString() => ((float)this).ToString();
}
