using System.Numerics;
using System.Numerics.Tensors;

namespace Tessera.Kernels;

/// <summary>
/// Products with a few rows on the left, y (m×n) = x (m×k) · B (k×n), m ≤ <see cref="MaxRows"/>: a classifier head
/// at batch 1 (1×1280 · 1280×1000). The packed GEMM would copy all of B into its panel layout on every call to use
/// it for one row — three passes over a 5 MB matrix for 1.3 M multiply-adds; here B is read once, in place, split
/// by output columns over the kernel threads.
/// </summary>
/// <remarks>
/// B stored transposed (n×k rows, ONNX Gemm's transB weight): each output is one <see cref="TensorPrimitives.Dot{T}(ReadOnlySpan{T}, ReadOnlySpan{T})"/>
/// of two contiguous rows. B row-major (k×n): each output row is a sum of x-weighted rows of B over a column slice.
/// Results depend only on the shapes, not on the thread count.
/// </remarks>
public static unsafe class GemvKernel
{
    /// <summary>Most rows of x that take this path instead of the GEMM.</summary>
    public const int MaxRows = 4;

    /// <summary>Output columns per job (row-major B: one slice of every B row, a few KB, per job).</summary>
    private const int ColumnSlice = 256;

    /// <summary>
    /// y[i, j] = Σ_kk x[i, kk] · B[kk, j] with x rows at stride ldx, B as described by transB/ldb (transB: B[kk, j] =
    /// b[j·ldb + kk]), y rows at stride ldy. Overwrites y.
    /// </summary>
    public static void Run<T>(int m, int n, int k, T* x, int ldx, bool transB, T* b, int ldb, T* y, int ldy)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int slices = (n + ColumnSlice - 1) / ColumnSlice;
        nint ax = (nint)x, ab = (nint)b, ay = (nint)y;
        Conv2dKernel.For(slices, (long)m * ColumnSlice * k, s =>
        {
            int j0 = s * ColumnSlice, j1 = Math.Min(n, j0 + ColumnSlice);
            if (transB) DotColumns((T*)ax, ldx, m, k, (T*)ab, ldb, (T*)ay, ldy, j0, j1);
            else AxpyColumns((T*)ax, ldx, m, k, (T*)ab, ldb, (T*)ay, ldy, j0, j1);
        });
    }

    private static void DotColumns<T>(T* x, int ldx, int m, int k, T* b, int ldb, T* y, int ldy, int j0, int j1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // B row j is read from memory once and serves every x row from L1.
        for (int j = j0; j < j1; j++)
        {
            var bj = new ReadOnlySpan<T>(b + (long)j * ldb, k);
            for (int i = 0; i < m; i++) y[(long)i * ldy + j] = TensorPrimitives.Dot(new ReadOnlySpan<T>(x + (long)i * ldx, k), bj);
        }
    }

    private static void AxpyColumns<T>(T* x, int ldx, int m, int k, T* b, int ldb, T* y, int ldy, int j0, int j1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = j1 - j0;
        for (int i = 0; i < m; i++)
        {
            T* xi = x + (long)i * ldx;
            var yi = new Span<T>(y + (long)i * ldy + j0, w);
            yi.Clear();
            for (int kk = 0; kk < k; kk++)
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(b + (long)kk * ldb + j0, w), xi[kk], yi, yi);
        }
    }
}
