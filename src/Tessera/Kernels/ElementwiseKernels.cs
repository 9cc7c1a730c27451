using System.Runtime.CompilerServices;
using System.Numerics;
using System.Numerics.Tensors;

namespace Tessera.Kernels;

/// <summary>An elementwise function of one value, with a vectorized span form.</summary>
public interface IUnaryFunction<T>
{
    static abstract T Apply(T x);
    static abstract void Apply(ReadOnlySpan<T> x, Span<T> y);
}

/// <summary>An elementwise function of two values, with vectorized span forms for the broadcast cases.</summary>
public interface IBinaryFunction<T>
{
    static abstract T Apply(T a, T b);
    static abstract void Apply(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y);
    static abstract void Apply(ReadOnlySpan<T> a, T b, Span<T> y);
    static abstract void Apply(T a, ReadOnlySpan<T> b, Span<T> y);
}

/// <summary>A predicate on two values (comparisons); the output is bool.</summary>
public interface ICompareFunction<T>
{
    static abstract bool Apply(T a, T b);
}

/// <summary>
/// Loops that apply elementwise functions to strided, broadcast tensors. The output is always contiguous and is
/// written in row-major order while a <see cref="StridedCursor"/> walks the inputs. Contiguous rows go to the
/// function's span form (TensorPrimitives underneath); large contiguous inputs are split across cores.
/// </summary>
public static class ElementwiseKernels
{
    /// <summary>Below this many elements a parallel split costs more than it saves.</summary>
    internal const int ParallelThreshold = 1 << 21;

    public static void Unary<T, F>(Tensor x, Tensor y) where T : unmanaged where F : IUnaryFunction<T>
    {
        var xs = x.Data<T>();
        var ys = y.Data<T>();
        int yo = y._offset;
        if (x.IsContiguous)
        {
            if (x.Length < ParallelThreshold) { F.Apply(xs.AsSpan(x._offset, x.Length), ys.AsSpan(yo, x.Length)); return; }
            UnaryParallel<T, F>(xs, x._offset, ys, yo, x.Length);
            return;
        }
        var cur = new StridedCursor(x._shape, x._strides, x._offset);
        int n = cur.RowLength, sa = cur.RowStrideA;
        while (cur.MoveNext())
        {
            if (sa == 1) F.Apply(xs.AsSpan(cur.OffsetA, n), ys.AsSpan(yo, n));
            else for (int i = 0; i < n; i++) ys[yo + i] = F.Apply(xs[cur.OffsetA + i * sa]);
            yo += n;
        }
    }

    public static void Binary<T, F>(Tensor a, Tensor b, Tensor y) where T : unmanaged where F : IBinaryFunction<T>
    {
        var aa = a.Data<T>();
        var bb = b.Data<T>();
        var ys = y.Data<T>();
        int yo = y._offset;
        if (a.IsContiguous && b.IsContiguous && a.Length == y.Length && b.Length == y.Length)
        {
            int ao = a._offset, bo = b._offset;
            // Small inputs skip the parallel split and its closure allocation.
            if (y.Length < ParallelThreshold) { F.Apply(aa.AsSpan(ao, y.Length), bb.AsSpan(bo, y.Length), ys.AsSpan(yo, y.Length)); return; }
            BinaryParallel<T, F>(aa, ao, bb, bo, ys, yo, y.Length);
            return;
        }
        if (b.Length == 1 && a.IsContiguous && a.Length == y.Length)
        {
            T bv = bb[b._offset]; int ao = a._offset;
            if (y.Length < ParallelThreshold) { F.Apply(aa.AsSpan(ao, y.Length), bv, ys.AsSpan(yo, y.Length)); return; }
            BinaryParallel<T, F>(aa, ao, bv, ys, yo, y.Length);
            return;
        }
        if (a.Length == 1 && b.IsContiguous && b.Length == y.Length)
        {
            T av = aa[a._offset]; int bo = b._offset;
            if (y.Length < ParallelThreshold) { F.Apply(av, bb.AsSpan(bo, y.Length), ys.AsSpan(yo, y.Length)); return; }
            BinaryParallel<T, F>(av, bb, bo, ys, yo, y.Length);
            return;
        }
        var sa = BroadcastStrides(a, y._shape);
        var sb = BroadcastStrides(b, y._shape);
        var cur = new StridedCursor(y._shape, sa, a._offset, sb, b._offset);
        int n = cur.RowLength, ra = cur.RowStrideA, rb = cur.RowStrideB;
        while (cur.MoveNext())
        {
            int oa = cur.OffsetA, ob = cur.OffsetB;
            var dst = ys.AsSpan(yo, n);
            if (ra == 1 && rb == 1) F.Apply(aa.AsSpan(oa, n), bb.AsSpan(ob, n), dst);
            else if (ra == 1 && rb == 0) F.Apply(aa.AsSpan(oa, n), bb[ob], dst);
            else if (ra == 0 && rb == 1) F.Apply(aa[oa], bb.AsSpan(ob, n), dst);
            else for (int i = 0; i < n; i++) dst[i] = F.Apply(aa[oa + i * ra], bb[ob + i * rb]);
            yo += n;
        }
    }

    // The parallel paths live in their own methods: a lambda's captured variables are allocated on entry to the
    // method that declares them, and the small-input paths above must not pay for that.
    private static void UnaryParallel<T, F>(T[] xs, int xo, T[] ys, int yo, int n) where T : unmanaged where F : IUnaryFunction<T> =>
        ParallelChunks(n, (s, len) => F.Apply(xs.AsSpan(xo + s, len), ys.AsSpan(yo + s, len)));

    private static void BinaryParallel<T, F>(T[] aa, int ao, T[] bb, int bo, T[] ys, int yo, int n) where T : unmanaged where F : IBinaryFunction<T> =>
        ParallelChunks(n, (s, len) => F.Apply(aa.AsSpan(ao + s, len), bb.AsSpan(bo + s, len), ys.AsSpan(yo + s, len)));

    private static void BinaryParallel<T, F>(T[] aa, int ao, T bv, T[] ys, int yo, int n) where T : unmanaged where F : IBinaryFunction<T> =>
        ParallelChunks(n, (s, len) => F.Apply(aa.AsSpan(ao + s, len), bv, ys.AsSpan(yo + s, len)));

    private static void BinaryParallel<T, F>(T av, T[] bb, int bo, T[] ys, int yo, int n) where T : unmanaged where F : IBinaryFunction<T> =>
        ParallelChunks(n, (s, len) => F.Apply(av, bb.AsSpan(bo + s, len), ys.AsSpan(yo + s, len)));

    public static void Compare<T, F>(Tensor a, Tensor b, Tensor y) where T : unmanaged where F : ICompareFunction<T>
    {
        var aa = a.Data<T>();
        var bb = b.Data<T>();
        var ys = y.Data<bool>();
        int yo = y._offset;
        var cur = new StridedCursor(y._shape, BroadcastStrides(a, y._shape), a._offset, BroadcastStrides(b, y._shape), b._offset);
        int n = cur.RowLength, ra = cur.RowStrideA, rb = cur.RowStrideB;
        while (cur.MoveNext())
        {
            int oa = cur.OffsetA, ob = cur.OffsetB;
            for (int i = 0; i < n; i++) ys[yo + i] = F.Apply(aa[oa + i * ra], bb[ob + i * rb]);
            yo += n;
        }
    }

    public static void Where<T>(Tensor cond, Tensor a, Tensor b, Tensor y) where T : unmanaged
    {
        var cc = cond.Data<bool>();
        var aa = a.Data<T>();
        var bb = b.Data<T>();
        var ys = y.Data<T>();
        int yo = y._offset;
        var cur = new StridedCursor(y._shape, BroadcastStrides(cond, y._shape), cond._offset,
            BroadcastStrides(a, y._shape), a._offset, BroadcastStrides(b, y._shape), b._offset);
        int n = cur.RowLength, rc = cur.RowStrideA, ra = cur.RowStrideB, rb = cur.RowStrideC;
        while (cur.MoveNext())
        {
            int oc = cur.OffsetA, oa = cur.OffsetB, ob = cur.OffsetC;
            for (int i = 0; i < n; i++) ys[yo + i] = cc[oc + i * rc] ? aa[oa + i * ra] : bb[ob + i * rb];
            yo += n;
        }
    }

    /// <summary>Converts every element to <typeparamref name="TTo"/> (C semantics: truncation toward zero for ints).</summary>
    public static void Cast<TFrom, TTo>(Tensor x, Tensor y) where TFrom : unmanaged where TTo : unmanaged
    {
        var xs = x.Data<TFrom>();
        var ys = y.Data<TTo>();
        int yo = y._offset;
        var cur = new StridedCursor(x._shape, x._strides, x._offset);
        int n = cur.RowLength, sa = cur.RowStrideA;
        while (cur.MoveNext())
        {
            for (int i = 0; i < n; i++) ys[yo + i] = ScalarConvert.To<TFrom, TTo>(xs[cur.OffsetA + i * sa]);
            yo += n;
        }
    }

    /// <summary>Strides of <paramref name="t"/> aligned to <paramref name="shape"/>, 0 on broadcast axes.</summary>
    internal static int[] BroadcastStrides(Tensor t, int[] shape)
    {
        var s = new int[shape.Length];
        int lead = shape.Length - t.Rank;
        for (int i = lead; i < shape.Length; i++)
            s[i] = t._shape[i - lead] == 1 && shape[i] != 1 ? 0 : t._strides[i - lead];
        return s;
    }

    internal static void ParallelChunks(int length, Action<int, int> body)
    {
        if (length < ParallelThreshold || Environment.ProcessorCount == 1)
        {
            body(0, length);
            return;
        }
        int chunks = Math.Min(Environment.ProcessorCount, length / (ParallelThreshold / 2));
        int chunk = (length + chunks - 1) / chunks;
        chunk = (chunk + 15) & ~15; // keep chunk starts vector aligned relative to the base
        Parallel.For(0, chunks, c =>
        {
            int start = c * chunk;
            int len = Math.Min(chunk, length - start);
            if (len > 0) body(start, len);
        });
    }
}

/// <summary>
/// Scalar conversion between any two Tessera element types. The typeof tests fold away per instantiation and
/// <see cref="Unsafe.As{TFrom, TTo}(ref TFrom)"/> reinterprets without boxing, so each element costs a conversion only.
/// </summary>
internal static class ScalarConvert
{
    public static TTo To<TFrom, TTo>(TFrom v) where TFrom : unmanaged where TTo : unmanaged
    {
        if (typeof(TFrom) == typeof(TTo)) return Unsafe.As<TFrom, TTo>(ref v);
        // Integer to integer goes through a 64-bit pattern, not double: double loses precision above 2^53, and
        // the 64-bit pattern gives C's wrap-around (int64 -1 → uint8 255, uint64 2^64-1 → int64 -1).
        if (IsInteger<TFrom>() && IsInteger<TTo>()) return FromBits<TTo>(Bits(v));
        if (typeof(TFrom) == typeof(ulong) && typeof(TTo) == typeof(float)) { float r = Unsafe.As<TFrom, ulong>(ref v); return Unsafe.As<float, TTo>(ref r); }
        double d =
            typeof(TFrom) == typeof(float) ? Unsafe.As<TFrom, float>(ref v) :
            typeof(TFrom) == typeof(double) ? Unsafe.As<TFrom, double>(ref v) :
            typeof(TFrom) == typeof(bool) ? (Unsafe.As<TFrom, bool>(ref v) ? 1 : 0) :
            typeof(TFrom) == typeof(Half) ? (double)Unsafe.As<TFrom, Half>(ref v) :
            typeof(TFrom) == typeof(BFloat16) ? (double)Unsafe.As<TFrom, BFloat16>(ref v) :
            typeof(TFrom) == typeof(ulong) ? Unsafe.As<TFrom, ulong>(ref v) :
            IsInteger<TFrom>() ? Bits(v) :
            throw new NotSupportedException(typeof(TFrom).Name);
        if (typeof(TTo) == typeof(float)) { float r = (float)d; return Unsafe.As<float, TTo>(ref r); }
        if (typeof(TTo) == typeof(double)) return Unsafe.As<double, TTo>(ref d);
        if (typeof(TTo) == typeof(int)) { int r = double.IsNaN(d) ? int.MinValue : (int)d; return Unsafe.As<int, TTo>(ref r); }
        if (typeof(TTo) == typeof(long)) { long r = double.IsNaN(d) ? long.MinValue : (long)d; return Unsafe.As<long, TTo>(ref r); }
        if (typeof(TTo) == typeof(ulong)) { ulong r = d < 0 ? (ulong)(long)d : (ulong)d; return Unsafe.As<ulong, TTo>(ref r); }
        if (typeof(TTo) == typeof(bool)) { bool r = d != 0; return Unsafe.As<bool, TTo>(ref r); }
        if (typeof(TTo) == typeof(Half)) { Half r = (Half)d; return Unsafe.As<Half, TTo>(ref r); }
        // float32 first, then truncate: double → bfloat16 directly could differ from float32 → bfloat16 in the last bit.
        if (typeof(TTo) == typeof(BFloat16)) { BFloat16 r = (BFloat16)(float)d; return Unsafe.As<BFloat16, TTo>(ref r); }
        // The narrow integers (uint8, int8, int16, uint16, uint32): truncate toward zero, then wrap.
        if (IsInteger<TTo>()) return FromBits<TTo>(double.IsNaN(d) ? 0 : (long)d);
        throw new NotSupportedException(typeof(TTo).Name);
    }

    private static bool IsInteger<T>() =>
        typeof(T) == typeof(int) || typeof(T) == typeof(long) || typeof(T) == typeof(byte) || typeof(T) == typeof(sbyte) ||
        typeof(T) == typeof(short) || typeof(T) == typeof(ushort) || typeof(T) == typeof(uint) || typeof(T) == typeof(ulong);

    /// <summary>An integer, sign- or zero-extended to 64 bits (uint64 reinterpreted).</summary>
    private static long Bits<T>(T v) =>
        typeof(T) == typeof(int) ? Unsafe.As<T, int>(ref v) :
        typeof(T) == typeof(long) ? Unsafe.As<T, long>(ref v) :
        typeof(T) == typeof(byte) ? Unsafe.As<T, byte>(ref v) :
        typeof(T) == typeof(sbyte) ? Unsafe.As<T, sbyte>(ref v) :
        typeof(T) == typeof(short) ? Unsafe.As<T, short>(ref v) :
        typeof(T) == typeof(ushort) ? Unsafe.As<T, ushort>(ref v) :
        typeof(T) == typeof(uint) ? Unsafe.As<T, uint>(ref v) :
        typeof(T) == typeof(ulong) ? unchecked((long)Unsafe.As<T, ulong>(ref v)) :
        throw new NotSupportedException(typeof(T).Name);

    /// <summary>The low bits of <paramref name="b"/> as integer type <typeparamref name="T"/>.</summary>
    private static T FromBits<T>(long b)
    {
        unchecked
        {
            if (typeof(T) == typeof(int)) { int r = (int)b; return Unsafe.As<int, T>(ref r); }
            if (typeof(T) == typeof(long)) return Unsafe.As<long, T>(ref b);
            if (typeof(T) == typeof(byte)) { byte r = (byte)b; return Unsafe.As<byte, T>(ref r); }
            if (typeof(T) == typeof(sbyte)) { sbyte r = (sbyte)b; return Unsafe.As<sbyte, T>(ref r); }
            if (typeof(T) == typeof(short)) { short r = (short)b; return Unsafe.As<short, T>(ref r); }
            if (typeof(T) == typeof(ushort)) { ushort r = (ushort)b; return Unsafe.As<ushort, T>(ref r); }
            if (typeof(T) == typeof(uint)) { uint r = (uint)b; return Unsafe.As<uint, T>(ref r); }
            if (typeof(T) == typeof(ulong)) { ulong r = (ulong)b; return Unsafe.As<ulong, T>(ref r); }
        }
        throw new NotSupportedException(typeof(T).Name);
    }
}
