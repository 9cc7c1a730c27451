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
    internal const int ParallelThreshold = 1 << 18;

    public static void Unary<T, F>(Tensor x, Tensor y) where T : unmanaged where F : IUnaryFunction<T>
    {
        var xs = x.Data<T>();
        var ys = y.Data<T>();
        int yo = y._offset;
        if (x.IsContiguous)
        {
            ParallelChunks(x.Length, (start, len) => F.Apply(xs.AsSpan(x._offset + start, len), ys.AsSpan(yo + start, len)));
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
            ParallelChunks(y.Length, (s, len) => F.Apply(aa.AsSpan(ao + s, len), bb.AsSpan(bo + s, len), ys.AsSpan(yo + s, len)));
            return;
        }
        if (b.Length == 1 && a.IsContiguous && a.Length == y.Length)
        {
            T bv = bb[b._offset]; int ao = a._offset;
            ParallelChunks(y.Length, (s, len) => F.Apply(aa.AsSpan(ao + s, len), bv, ys.AsSpan(yo + s, len)));
            return;
        }
        if (a.Length == 1 && b.IsContiguous && b.Length == y.Length)
        {
            T av = aa[a._offset]; int bo = b._offset;
            ParallelChunks(y.Length, (s, len) => F.Apply(av, bb.AsSpan(bo + s, len), ys.AsSpan(yo + s, len)));
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

/// <summary>Scalar conversion between any two Tessera element types.</summary>
internal static class ScalarConvert
{
    public static TTo To<TFrom, TTo>(TFrom v) where TFrom : unmanaged where TTo : unmanaged
    {
        if (typeof(TFrom) == typeof(TTo)) return (TTo)(object)v;
        double d = v switch
        {
            float f => f,
            double x => x,
            int i => i,
            long l => l,
            byte b => b,
            bool q => q ? 1 : 0,
            Half h => (double)h,
            _ => throw new NotSupportedException(),
        };
        // long -> double -> long loses precision above 2^53; int64 <-> int32 keep their own path.
        if (v is long lv && typeof(TTo) == typeof(int)) return (TTo)(object)(int)lv;
        if (v is int iv && typeof(TTo) == typeof(long)) return (TTo)(object)(long)iv;
        object r = typeof(TTo) switch
        {
            var t when t == typeof(float) => (float)d,
            var t when t == typeof(double) => d,
            var t when t == typeof(int) => double.IsNaN(d) ? int.MinValue : (int)d,
            var t when t == typeof(long) => double.IsNaN(d) ? long.MinValue : (long)d,
            var t when t == typeof(byte) => (byte)(int)d,
            var t when t == typeof(bool) => d != 0,
            var t when t == typeof(Half) => (Half)d,
            _ => throw new NotSupportedException(),
        };
        return (TTo)r;
    }
}
