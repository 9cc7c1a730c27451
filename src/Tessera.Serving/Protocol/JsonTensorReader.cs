using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Tessera.Serving.Protocol;

/// <summary>
/// Decodes a JSON tensor's <c>data</c> straight from a <see cref="Utf8JsonReader"/> into the raw bytes of
/// <see cref="InferTensor"/>, one forward pass, checking every element against the datatype; errors name the tensor
/// and element. Nested arrays are flattened row-major to any depth, as Triton does: only the element count is
/// checked against the shape (by the caller), not the nesting.
/// </summary>
public static class JsonTensorReader
{
    /// <summary>
    /// Reads the value the reader stands on (an array, or one bare element) and leaves the reader on its last token.
    /// <paramref name="expected"/> is the element count the shape declares (-1 when unknown): the buffer is sized for
    /// it up front, capped at <paramref name="maxElements"/> (what the body could hold: a claimed shape of a billion
    /// elements must not allocate before the count check refuses it), and elements past it are counted, not stored.
    /// With <paramref name="rented"/> the bytes live in pooled arrays it owns; without, in fresh ones.
    /// </summary>
    public static ReadOnlyMemory<byte> Read(ref Utf8JsonReader r, DataType type, string tensor, long expected, long maxElements,
        RentedBuffers? rented, out long count)
    {
        int size = type.ElementSize();
        long known = expected >= 0 ? Math.Min(expected, maxElements) : -1;
        long limit = size == 0 ? Array.MaxLength : Math.Min(Array.MaxLength, (known >= 0 ? known : maxElements) * size);
        long initial = size == 0 ? 256 : known >= 0 ? limit : Math.Min(limit, 256);
        var sink = new Sink(rented, (int)initial, (int)limit);
        count = type switch
        {
            DataType.Bool => ReadFixed<byte, BoolElement>(ref r, type, tensor, sink),
            DataType.UInt8 => ReadFixed<byte, Integer<byte>>(ref r, type, tensor, sink),
            DataType.UInt16 => ReadFixed<ushort, Integer<ushort>>(ref r, type, tensor, sink),
            DataType.UInt32 => ReadFixed<uint, Integer<uint>>(ref r, type, tensor, sink),
            DataType.UInt64 => ReadFixed<ulong, UInt64Element>(ref r, type, tensor, sink),
            DataType.Int8 => ReadFixed<sbyte, Integer<sbyte>>(ref r, type, tensor, sink),
            DataType.Int16 => ReadFixed<short, Integer<short>>(ref r, type, tensor, sink),
            DataType.Int32 => ReadFixed<int, Integer<int>>(ref r, type, tensor, sink),
            DataType.Int64 => ReadFixed<long, Integer<long>>(ref r, type, tensor, sink),
            DataType.FP16 => ReadFixed<Half, Fp16Element>(ref r, type, tensor, sink),
            DataType.BF16 => ReadFixed<ushort, Bf16Element>(ref r, type, tensor, sink),
            DataType.FP32 => ReadFixed<float, Fp32Element>(ref r, type, tensor, sink),
            DataType.FP64 => ReadFixed<double, Fp64Element>(ref r, type, tensor, sink),
            _ => ReadBytes(ref r, tensor, sink),
        };
        return sink.Array.AsMemory(0, sink.Length);
    }

    /// <summary>The same over a value of a parsed document (the plain <c>/infer</c> endpoint), into fresh arrays.</summary>
    public static ReadOnlyMemory<byte> Read(JsonElement data, DataType type, string tensor, out long count, long expected = -1)
    {
        var raw = JsonMarshal.GetRawUtf8Value(data);
        var r = new Utf8JsonReader(raw);
        r.Read();
        return Read(ref r, type, tensor, expected, raw.Length / 2 + 1, null, out count);
    }

    /// <summary>The destination: one array, grown (up to a limit) when the element count was not known.</summary>
    private sealed class Sink(RentedBuffers? rented, int capacity, int limit)
    {
        public byte[] Array = Allocate(rented, capacity);
        public int Capacity = capacity; // bytes that may be stored; the array may be longer (pool sizes)
        public int Length; // bytes written

        private static byte[] Allocate(RentedBuffers? rented, int n) => rented?.Rent(n) ?? new byte[n];

        /// <summary>Room for at least <paramref name="needed"/> bytes; false once the limit is reached.</summary>
        public bool Grow(long needed)
        {
            if (needed > limit) return false;
            int next = (int)Math.Min(limit, Math.Max(needed, 2L * Math.Max(Capacity, 16)));
            if (next > Array.Length)
            {
                var bigger = Allocate(rented, next);
                Array.AsSpan(0, Length).CopyTo(bigger);
                rented?.Return(Array);
                Array = bigger;
            }
            Capacity = next;
            return true;
        }
    }

    private static long ReadFixed<T, TElement>(ref Utf8JsonReader r, DataType type, string tensor, Sink sink)
        where T : unmanaged where TElement : IElement<T>
    {
        int size = Unsafe.SizeOf<T>();
        var dst = MemoryMarshal.Cast<byte, T>(sink.Array.AsSpan(0, sink.Capacity));
        long n = 0;
        int depth = 0;
        while (true)
        {
            var token = r.TokenType;
            if (token == JsonTokenType.StartArray) depth++;
            else if (token == JsonTokenType.EndArray) depth--;
            else
            {
                if (!TElement.TryRead(ref r, out T v)) throw Bad(tensor, n, type, ref r);
                if ((ulong)n < (ulong)dst.Length) dst[(int)n] = v;
                else if (sink.Grow((n + 1) * size))
                {
                    dst = MemoryMarshal.Cast<byte, T>(sink.Array.AsSpan(0, sink.Capacity));
                    dst[(int)n] = v;
                }
                n++;
            }
            if (depth == 0) break;
            r.Read();
        }
        sink.Length = (int)Math.Min(n, dst.Length) * size;
        return n;
    }

    // BYTES: each element as a 4-byte little-endian length and its unescaped UTF-8 bytes (InferTensor's layout).
    private static long ReadBytes(ref Utf8JsonReader r, string tensor, Sink sink)
    {
        long n = 0;
        int depth = 0;
        while (true)
        {
            var token = r.TokenType;
            if (token == JsonTokenType.StartArray) depth++;
            else if (token == JsonTokenType.EndArray) depth--;
            else
            {
                if (token != JsonTokenType.String) throw Bad(tensor, n, DataType.Bytes, ref r);
                // Unescaping never lengthens a string, so its raw length is room enough.
                long raw = r.HasValueSequence ? r.ValueSequence.Length : r.ValueSpan.Length;
                if (sink.Capacity - sink.Length < 4 + raw && !sink.Grow(sink.Length + 4 + raw))
                    throw InferenceException.BadRequest($"input '{tensor}': BYTES data is too large");
                int len;
                try { len = r.CopyString(sink.Array.AsSpan(sink.Length + 4, sink.Capacity - sink.Length - 4)); }
                catch (InvalidOperationException e) { throw InferenceException.BadRequest($"input '{tensor}' element {n}: {e.Message}"); }
                BinaryPrimitives.WriteInt32LittleEndian(sink.Array.AsSpan(sink.Length), len);
                sink.Length += 4 + len;
                n++;
            }
            if (depth == 0) return n;
            r.Read();
        }
    }

    /// <summary>One element of type <typeparamref name="T"/> from the token the reader stands on; false if it does not fit.</summary>
    private interface IElement<T> where T : unmanaged
    {
        static abstract bool TryRead(ref Utf8JsonReader r, out T value);
    }

    private readonly struct BoolElement : IElement<byte>
    {
        public static bool TryRead(ref Utf8JsonReader r, out byte value)
        {
            value = r.TokenType == JsonTokenType.True ? (byte)1 : (byte)0;
            return r.TokenType is JsonTokenType.True or JsonTokenType.False;
        }
    }

    // Integers parse as Int64 (exactly: "1.0" and "1e2" are refused, as JsonElement.TryGetInt64 refuses them) and
    // must fit the datatype's range.
    private readonly struct Integer<T> : IElement<T> where T : unmanaged, IBinaryInteger<T>, IMinMaxValue<T>
    {
        private static readonly long Min = long.CreateTruncating(T.MinValue), Max = long.CreateSaturating(T.MaxValue);

        public static bool TryRead(ref Utf8JsonReader r, out T value)
        {
            value = default;
            if (r.TokenType != JsonTokenType.Number || !r.TryGetInt64(out long v) || v < Min || v > Max) return false;
            value = T.CreateTruncating(v);
            return true;
        }
    }

    private readonly struct UInt64Element : IElement<ulong>
    {
        public static bool TryRead(ref Utf8JsonReader r, out ulong value)
        {
            value = 0;
            return r.TokenType == JsonTokenType.Number && r.TryGetUInt64(out value);
        }
    }

    // Floats: a JSON number is finite, so an infinite result means it overflowed the datatype: refused like
    // out-of-range integers. FP32 parses as float directly (never through a double that is then rounded again).
    private readonly struct Fp32Element : IElement<float>
    {
        public static bool TryRead(ref Utf8JsonReader r, out float value)
        {
            value = 0;
            if (r.TokenType != JsonTokenType.Number) return false;
            if (!r.HasValueSequence && FastDecimal.TryParseSingle(r.ValueSpan, out value)) return true;
            return r.TryGetSingle(out value) && float.IsFinite(value);
        }
    }

    private static bool Double(ref Utf8JsonReader r, out double value) =>
        !r.HasValueSequence && FastDecimal.TryParseDouble(r.ValueSpan, out value) || r.TryGetDouble(out value);

    private readonly struct Fp64Element : IElement<double>
    {
        public static bool TryRead(ref Utf8JsonReader r, out double value)
        {
            value = 0;
            return r.TokenType == JsonTokenType.Number && Double(ref r, out value) && double.IsFinite(value);
        }
    }

    private readonly struct Fp16Element : IElement<Half>
    {
        public static bool TryRead(ref Utf8JsonReader r, out Half value)
        {
            value = default;
            if (r.TokenType != JsonTokenType.Number || !Double(ref r, out double d)) return false;
            value = (Half)d;
            return Half.IsFinite(value);
        }
    }

    private readonly struct Bf16Element : IElement<ushort>
    {
        public static bool TryRead(ref Utf8JsonReader r, out ushort value)
        {
            value = 0;
            if (r.TokenType != JsonTokenType.Number || !Double(ref r, out double d)) return false;
            value = BFloat16.FromSingle((float)d);
            return float.IsFinite(BFloat16.ToSingle(value));
        }
    }

    private static InferenceException Bad(string tensor, long index, DataType type, ref Utf8JsonReader r) =>
        InferenceException.BadRequest($"input '{tensor}' element {index}: expected {Describe(type)}, got {Show(ref r)}");

    private static string Describe(DataType t) => t switch
    {
        DataType.Bool => "true or false (BOOL)",
        DataType.Bytes => "a string (BYTES)",
        DataType.FP16 or DataType.BF16 or DataType.FP32 or DataType.FP64 => $"a number ({t.Name()})",
        _ => $"an integer in the range of {t.Name()}",
    };

    /// <summary>The token the reader stands on as an error shows it: its kind and (up to 40 characters of) its text.</summary>
    internal static string Show(ref Utf8JsonReader r)
    {
        string kind = r.TokenType switch
        {
            JsonTokenType.StartObject => "object",
            JsonTokenType.StartArray => "array",
            _ => r.TokenType.ToString().ToLowerInvariant(),
        };
        string raw = r.TokenType switch
        {
            JsonTokenType.StartObject => "{...}",
            JsonTokenType.StartArray => "[...]",
            JsonTokenType.String => $"\"{Text(ref r)}\"",
            _ => Text(ref r),
        };
        return $"{kind} {(raw.Length > 40 ? raw[..40] + "..." : raw)}";
    }

    private static string Text(ref Utf8JsonReader r) =>
        r.HasValueSequence ? Encoding.UTF8.GetString(r.ValueSequence) : Encoding.UTF8.GetString(r.ValueSpan);
}

/// <summary>bfloat16 ⇄ float: the top 16 bits of an IEEE single, rounded to nearest even.</summary>
public static class BFloat16
{
    public static ushort FromSingle(float f)
    {
        uint bits = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    public static float ToSingle(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);
}
