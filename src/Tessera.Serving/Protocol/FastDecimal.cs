namespace Tessera.Serving.Protocol;

/// <summary>
/// Clinger's fast path for JSON numbers: a decimal whose digits fit in 53 bits and whose power of ten is within
/// ±22 is one exact integer times or divided by one exact power of ten, a single correctly rounded operation. Most
/// numbers a client writes for an image (six to nine significant digits) take it; the rest fall back to
/// <see cref="System.Text.Json.Utf8JsonReader"/>'s own parser, with the same result. Measured: parsing the floats
/// was about half of a 1.6 MB image request's decode after the document was gone (Tessera.ServeBench json-decode).
/// </summary>
internal static class FastDecimal
{
    private static readonly double[] Pow10 =
        [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];

    /// <summary>The correctly rounded double of a JSON number's text (already validated by the reader); false when off the fast path.</summary>
    public static bool TryParseDouble(ReadOnlySpan<byte> s, out double value)
    {
        value = 0;
        int i = 0;
        bool negative = s.Length > 0 && s[0] == (byte)'-';
        if (negative) i = 1;
        ulong mantissa = 0;
        int digits = 0, exponent = 0;
        for (; i < s.Length; i++)
        {
            uint d = (uint)(s[i] - '0');
            if (d > 9) break;
            mantissa = mantissa * 10 + d;
            digits++;
        }
        if (i < s.Length && s[i] == (byte)'.')
            for (i++; i < s.Length; i++)
            {
                uint d = (uint)(s[i] - '0');
                if (d > 9) break;
                mantissa = mantissa * 10 + d;
                digits++;
                exponent--;
            }
        if (i < s.Length)
        {
            if ((s[i] | 0x20) != 'e') return false;
            i++;
            bool negativeExponent = i < s.Length && s[i] == (byte)'-';
            if (i < s.Length && s[i] is (byte)'-' or (byte)'+') i++;
            int e = 0, eDigits = 0;
            for (; i < s.Length; i++)
            {
                uint d = (uint)(s[i] - '0');
                if (d > 9 || ++eDigits > 3) return false;
                e = e * 10 + (int)d;
            }
            exponent += negativeExponent ? -e : e;
        }
        // 19 digits cannot overflow the ulong; zero goes the slow way so "-0" keeps its sign exactly as the reader gives it.
        if (digits > 19 || mantissa == 0 || mantissa > 1UL << 53 || exponent < -22 || exponent > 22) return false;
        double x = exponent < 0 ? mantissa / Pow10[-exponent] : mantissa * Pow10[exponent];
        value = negative ? -x : x;
        return true;
    }

    /// <summary>
    /// The correctly rounded float. Rounding the correctly rounded double again to float is exact unless the double
    /// falls exactly on a midpoint between two floats (then the decimal's side of it is lost): those go the slow way.
    /// On the fast path 1e-22 ≤ |x| &lt; 2^53·1e22 ≈ 9e37, inside float's normal range, so no subnormal or overflow cases.
    /// </summary>
    public static bool TryParseSingle(ReadOnlySpan<byte> s, out float value)
    {
        value = 0;
        if (!TryParseDouble(s, out double x) || (BitConverter.DoubleToUInt64Bits(x) & 0x1FFFFFFF) == 0x10000000) return false;
        value = (float)x;
        return true;
    }
}
