using System.Numerics;
using System.Numerics.Tensors;

namespace Tessera.Kernels;

/// <summary>How a reduction combines elements.</summary>
public enum ReduceKind { Sum, Max, Min, Prod }

/// <summary>
/// Reductions along any set of axes. Runs of adjacent reduced axes collapse into one; each run is reduced as a
/// contiguous (outer, n, inner) block: with inner == 1 every output is one TensorPrimitives call over a row, otherwise
/// whole inner rows are combined at once. Runs are reduced innermost first through pooled intermediates.
/// </summary>
public static class ReduceKernels
{
    /// <summary>Reduces <paramref name="x"/> over <paramref name="axes"/> (sorted, distinct, non-negative) into contiguous <paramref name="y"/>.</summary>
    public static void Reduce<T>(Tensor x, ReadOnlySpan<int> axes, ReduceKind kind, Tensor y) where T : unmanaged, INumber<T>
    {
        var src = x.Contiguous();
        var dims = src.ShapeArray();
        if (axes.Length == 0)
        {
            src.AsSpan<T>().CopyTo(y.AsSpan<T>());
            return;
        }
        // Group consecutive axes into runs, processed from the innermost run outwards.
        var runs = new List<(int First, int Last)>();
        for (int i = 0; i < axes.Length; i++)
        {
            if (runs.Count > 0 && runs[^1].Last == axes[i] - 1) runs[^1] = (runs[^1].First, axes[i]);
            else runs.Add((axes[i], axes[i]));
        }
        Tensor? current = null;
        ReadOnlySpan<T> input = src.AsSpan<T>();
        for (int r = runs.Count - 1; r >= 0; r--)
        {
            var (first, last) = runs[r];
            int outer = 1, n = 1, inner = 1;
            for (int d = 0; d < first; d++) outer *= dims[d];
            for (int d = first; d <= last; d++) { n *= dims[d]; dims[d] = 1; }
            for (int d = last + 1; d < dims.Length; d++) inner *= dims[d];
            Tensor? next = r == 0 ? null : Tensor.Empty(y.DType, outer * inner);
            var output = r == 0 ? y.AsSpan<T>() : next!.AsSpan<T>();
            ReduceBlock(input, outer, n, inner, kind, output);
            current?.Dispose();
            current = next;
            if (next is not null) input = next.AsSpan<T>();
        }
        current?.Dispose();
    }

    private static void ReduceBlock<T>(ReadOnlySpan<T> x, int outer, int n, int inner, ReduceKind kind, Span<T> y) where T : unmanaged, INumber<T>
    {
        if (n == 0)
        {
            y.Fill(kind == ReduceKind.Prod ? T.One : T.Zero);
            return;
        }
        if (inner == 1)
        {
            for (int o = 0; o < outer; o++)
            {
                var row = x.Slice(o * n, n);
                y[o] = kind switch
                {
                    ReduceKind.Sum => TensorPrimitives.Sum(row),
                    ReduceKind.Max => TensorPrimitives.Max(row),
                    ReduceKind.Min => TensorPrimitives.Min(row),
                    _ => TensorPrimitives.Product(row),
                };
            }
            return;
        }
        for (int o = 0; o < outer; o++)
        {
            var acc = y.Slice(o * inner, inner);
            x.Slice(o * n * inner, inner).CopyTo(acc);
            for (int k = 1; k < n; k++)
            {
                var row = x.Slice((o * n + k) * inner, inner);
                switch (kind)
                {
                    case ReduceKind.Sum: TensorPrimitives.Add(acc, row, acc); break;
                    case ReduceKind.Max: TensorPrimitives.Max(acc, row, acc); break;
                    case ReduceKind.Min: TensorPrimitives.Min(acc, row, acc); break;
                    default: TensorPrimitives.Multiply(acc, row, acc); break;
                }
            }
        }
    }

    /// <summary>Index of the first maximum along one axis, as int64.</summary>
    public static void ArgMax<T>(Tensor x, int axis, Tensor y) where T : unmanaged, INumber<T>
    {
        var src = x.Contiguous();
        var xs = src.AsSpan<T>();
        var ys = y.AsSpan<long>();
        int outer = 1, n = src.Shape[axis], inner = 1;
        for (int d = 0; d < axis; d++) outer *= src.Shape[d];
        for (int d = axis + 1; d < src.Rank; d++) inner *= src.Shape[d];
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int best = 0;
                T bv = xs[o * n * inner + i];
                for (int k = 1; k < n; k++)
                {
                    T v = xs[(o * n + k) * inner + i];
                    if (v > bv || (T.IsNaN(v) && !T.IsNaN(bv))) { bv = v; best = k; }
                }
                ys[o * inner + i] = best;
            }
    }
}
