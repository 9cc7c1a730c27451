using System.Runtime.InteropServices;

namespace Tessera.Kernels;

/// <summary>
/// Batched matrix multiply with NumPy broadcasting over the batch axes: y[..., m, n] = a[..., m, k] · b[..., k, n].
/// Transposed views are passed to GEMM as transposed operands rather than copied; when b has no batch axes and a
/// is row-major, the batch folds into one tall GEMM (the common Linear-layer case).
/// </summary>
public static class MatMulKernel
{
    public static void Run<T>(Tensor a, Tensor b, Tensor y) where T : unmanaged
    {
        int m = a.Shape[^2], k = a.Shape[^1], n = b.Shape[^1];
        int batchRank = y.Rank - 2;
        var ys = y.Data<T>();
        if (y.Length == 0) return;
        if (k == 0) { ys.AsSpan(y._offset, y.Length).Clear(); return; }

        bool bUnbatched = true;
        for (int d = 0; d < b.Rank - 2; d++) if (b.Shape[d] != 1) bUnbatched = false;
        if (bUnbatched && a.IsContiguous && a.Rank >= 2)
        {
            // Fold a's batch axes into its rows: (B·m, k) · (k, n).
            int rows = a.Length / k;
            MatrixLayout(k, n, b._strides[^2], b._strides[^1], out bool tb, out int ldb, out bool okb);
            var bm = okb ? b : b.Contiguous();
            if (!okb) MatrixLayout(k, n, bm._strides[^2], bm._strides[^1], out tb, out ldb, out _);
            Gemm<T>(false, tb, rows, n, k, a.Data<T>().AsSpan(a._offset), k, bm.Data<T>().AsSpan(bm._offset), ldb, ys.AsSpan(y._offset));
            return;
        }

        var ybatch = y._shape[..batchRank];
        var sa = BatchStrides(a, ybatch);
        var sbb = BatchStrides(b, ybatch);
        MatrixLayout(m, k, a._strides[^2], a._strides[^1], out bool ta, out int lda, out bool oka);
        MatrixLayout(k, n, b._strides[^2], b._strides[^1], out bool tb2, out int ldb2, out bool okb2);
        if (!oka) { a = a.Contiguous(); sa = BatchStrides(a, ybatch); MatrixLayout(m, k, a._strides[^2], a._strides[^1], out ta, out lda, out _); }
        if (!okb2) { b = b.Contiguous(); sbb = BatchStrides(b, ybatch); MatrixLayout(k, n, b._strides[^2], b._strides[^1], out tb2, out ldb2, out _); }
        var ad = a.Data<T>();
        var bd = b.Data<T>();
        int batches = ShapeMath.Count(ybatch);
        int aOffset = a._offset, bOffset = b._offset, yOffset = y._offset;
        void One(int bi)
        {
            int oa = aOffset, ob = bOffset, rest = bi;
            for (int d = batchRank - 1; d >= 0; d--)
            {
                int i = rest % ybatch[d];
                rest /= ybatch[d];
                oa += i * sa[d];
                ob += i * sbb[d];
            }
            Gemm<T>(ta, tb2, m, n, k, ad.AsSpan(oa), lda, bd.AsSpan(ob), ldb2, ys.AsSpan(yOffset + bi * m * n));
        }
        // Many small products (attention: one per head, 128×128×64): one product per thread at a time, each
        // single-threaded (a GEMM started inside the pool's loop runs on its caller), instead of a fork/join per
        // product that splits a 1 M multiply-add GEMM over the threads.
        int threads = GemmKernel.MaxThreads;
        if (threads > 1 && batches >= 2 && (long)m * n * k <= BatchParallelWork)
        {
            KernelThreads.For(batches, threads, One);
            return;
        }
        for (int bi = 0; bi < batches; bi++) One(bi);
    }

    /// <summary>Per-product m·n·k up to which a batched MatMul runs its products in parallel rather than each threaded.</summary>
    internal static long BatchParallelWork { get; set; } = 256L * 256 * 256;

    /// <summary>Strides of t's batch axes aligned to the output batch shape, 0 where broadcast.</summary>
    private static int[] BatchStrides(Tensor t, int[] batch)
    {
        var s = new int[batch.Length];
        int tb = t.Rank - 2, lead = batch.Length - tb;
        for (int d = lead; d < batch.Length; d++)
            s[d] = t._shape[d - lead] == 1 ? 0 : t._strides[d - lead];
        return s;
    }

    /// <summary>How GEMM should read a rows×cols matrix with these strides: row-major, transposed, or neither (copy).</summary>
    internal static void MatrixLayout(int rows, int cols, int rowStride, int colStride, out bool transposed, out int ld, out bool ok)
    {
        if ((colStride == 1 || cols == 1) && (rows == 1 || rowStride >= cols))
        {
            transposed = false; ld = rows == 1 ? cols : rowStride; ok = true;
        }
        else if ((rowStride == 1 || rows == 1) && (cols == 1 || colStride >= rows))
        {
            transposed = true; ld = cols == 1 ? rows : colStride; ok = true;
        }
        else
        {
            transposed = false; ld = 0; ok = false;
        }
    }

    private static unsafe void Gemm<T>(bool ta, bool tb, int m, int n, int k, Span<T> a, int lda, Span<T> b, int ldb, Span<T> c) where T : unmanaged
    {
        if (m <= GemvKernel.MaxRows && !ta && (long)n * k >= GemmKernel.SmallThreshold)
        {
            // A few rows times a large matrix (a classifier head at batch 1): read B once in place, no packing.
            if ((long)(m - 1) * lda + k > a.Length || (tb ? (long)(n - 1) * ldb + k : (long)(k - 1) * ldb + n) > b.Length || (long)m * n > c.Length)
                throw new ArgumentException("MatMul operand spans are shorter than their shapes.");
            fixed (T* pa = a, pb = b, pc = c)
            {
                if (typeof(T) == typeof(float)) GemvKernel.Run(m, n, k, (float*)pa, lda, tb, (float*)pb, ldb, (float*)pc, n);
                else GemvKernel.Run(m, n, k, (double*)pa, lda, tb, (double*)pb, ldb, (double*)pc, n);
            }
            return;
        }
        if (typeof(T) == typeof(float))
            GemmKernel.Sgemm(ta, tb, m, n, k, 1f, MemoryMarshal.Cast<T, float>(a), lda, MemoryMarshal.Cast<T, float>(b), ldb, 0f, MemoryMarshal.Cast<T, float>(c), n);
        else
            GemmKernel.Dgemm(ta, tb, m, n, k, 1.0, MemoryMarshal.Cast<T, double>(a), lda, MemoryMarshal.Cast<T, double>(b), ldb, 0.0, MemoryMarshal.Cast<T, double>(c), n);
    }
}
