using System.Numerics;
using System.Runtime.CompilerServices;

namespace Tessera.Kernels;

/// <summary>
/// The right operand op(B) (k×n) of a GEMM, packed once into the micro-kernel's NR-column panel layout: a Linear
/// layer's constant weight in x · W, where every call would otherwise re-pack all of W (for a 128-row x, one
/// strided read of W per 128 rows of work). Create with <see cref="GemmKernel.PackB(bool, int, int, ReadOnlySpan{float}, int)"/>
/// and pass to <see cref="GemmKernel.SgemmPackedB(bool, int, float, ReadOnlySpan{float}, int, PackedGemmOperandB{float}, float, Span{float}, int)"/>;
/// results are bit-identical to the unpacked call with the same kernel (same panels, same k-blocks, same order).
/// </summary>
/// <remarks>
/// Layout: for every k-block pc (of <see cref="KC"/> rows, the last one shorter) the block holds all
/// <see cref="PaddedCols"/> columns as consecutive kc×NR panels ([pc·PaddedCols + j·kc + p·NR + jj] for panel start j),
/// so a thread can start at any NR-aligned column. Padding columns are zero. Pinned and 64-byte aligned.
/// </remarks>
public sealed class PackedGemmOperandB<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _buffer;
    private readonly int _offset;

    internal PackedGemmOperandB(GemmKernelKind kernel, int depth, int cols, int nr, int kc)
    {
        Kernel = kernel;
        Depth = depth;
        Cols = cols;
        NR = nr;
        KC = kc;
        PaddedCols = (cols + nr - 1) / nr * nr;
        int pad = 64 / Unsafe.SizeOf<T>();
        long length = (long)PaddedCols * depth;
        if (length + pad > Array.MaxLength)
            throw new ArgumentException($"Packed operand of {depth}×{cols} is too large.");
        _buffer = GC.AllocateUninitializedArray<T>((int)length + pad, pinned: true);
        unsafe
        {
            nint p = (nint)Unsafe.AsPointer(ref _buffer[0]);
            _offset = (int)((((p + 63) & ~(nint)63) - p) / sizeof(T));
        }
    }

    /// <summary>Rows k of op(B) (the reduction length).</summary>
    public int Depth { get; }

    /// <summary>Columns n of op(B).</summary>
    public int Cols { get; }

    /// <summary>Micro-kernel family the panels were laid out for.</summary>
    public GemmKernelKind Kernel { get; }

    /// <summary>Register-tile width the panels were packed with.</summary>
    public int NR { get; }

    /// <summary>k-block length the panels were packed with.</summary>
    public int KC { get; }

    /// <summary>Columns rounded up to a whole number of NR-column panels.</summary>
    public int PaddedCols { get; }

    internal unsafe T* Data => (T*)Unsafe.AsPointer(ref _buffer[_offset]);
}

public static partial class GemmKernel
{
    /// <summary>Packs op(B) (k×n; stored n×k when <paramref name="transB"/>) once for repeated <see cref="SgemmPackedB"/> calls.</summary>
    public static PackedGemmOperandB<float> PackB(bool transB, int k, int n, ReadOnlySpan<float> b, int ldb)
        => PackOperandB(transB, k, n, b, ldb);

    /// <summary>Double-precision <see cref="PackB(bool, int, int, ReadOnlySpan{float}, int)"/>.</summary>
    public static PackedGemmOperandB<double> PackB(bool transB, int k, int n, ReadOnlySpan<double> b, int ldb)
        => PackOperandB(transB, k, n, b, ldb);

    /// <summary>C = alpha·op(A)·B + beta·C with a pre-packed B (k = b.Depth, n = b.Cols); op(A) is m×k.</summary>
    public static void SgemmPackedB(bool transA, int m, float alpha, ReadOnlySpan<float> a, int lda,
        PackedGemmOperandB<float> b, float beta, Span<float> c, int ldc)
        => GemmPackedB(transA, m, alpha, a, lda, b, beta, c, ldc);

    /// <summary>Double-precision <see cref="SgemmPackedB"/>.</summary>
    public static void DgemmPackedB(bool transA, int m, double alpha, ReadOnlySpan<double> a, int lda,
        PackedGemmOperandB<double> b, double beta, Span<double> c, int ldc)
        => GemmPackedB(transA, m, alpha, a, lda, b, beta, c, ldc);

    private static unsafe PackedGemmOperandB<T> PackOperandB<T>(bool transB, int k, int n, ReadOnlySpan<T> b, int ldb)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(n);
        if (transB) CheckOperand(b.Length, n, k, ldb, nameof(b));
        else CheckOperand(b.Length, k, n, ldb, nameof(b));

        var t = GetTiling<T>(ActiveKernel);
        var packed = new PackedGemmOperandB<T>(t.Kind, k, n, t.NR, t.KC);
        T* dst = packed.Data;
        fixed (T* pb = b)
        {
            for (int pc = 0; pc < k; pc += t.KC)
            {
                int kc = Math.Min(t.KC, k - pc);
                T* src = transB ? pb + pc : pb + (long)pc * ldb;
                PackB(t.Kind, transB, src, ldb, kc, n, dst + (long)pc * packed.PaddedCols, t.NR);
            }
        }
        return packed;
    }

    private static unsafe void GemmPackedB<T>(bool transA, int m, T alpha, ReadOnlySpan<T> a, int lda,
        PackedGemmOperandB<T> b, T beta, Span<T> c, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(b);
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        int n = b.Cols, k = b.Depth;
        if (m == 0) return;
        CheckOperand(c.Length, m, n, ldc, nameof(c));
        if (transA) CheckOperand(a.Length, k, m, lda, nameof(a));
        else CheckOperand(a.Length, m, k, lda, nameof(a));

        fixed (T* pa = a)
        fixed (T* pc = c)
        {
            if (alpha == T.Zero)
            {
                ScaleC(m, n, beta, pc, ldc);
                return;
            }
            // Always the packed path (the panels are already paid for), with the kernel and KC they were packed for.
            var tiling = GetTiling<T>(b.Kernel, b.KC);
            long work = (long)m * n * k;
            int threads = (int)Math.Min(MaxThreads, Math.Max(1, work / MinWorkPerThread));
            if (threads <= 1)
                Blocked(in tiling, transA, false, m, n, k, alpha, pa, lda, null, 0, beta, pc, ldc, null, 0, 0, b.Data, b.PaddedCols);
            else
                Threaded(in tiling, threads, transA, false, m, n, k, alpha, pa, lda, null, 0, beta, pc, ldc, null, 0, b.Data, b.PaddedCols);
            GC.KeepAlive(b);
        }
    }
}
