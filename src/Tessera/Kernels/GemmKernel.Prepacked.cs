using System.Numerics;
using System.Runtime.CompilerServices;

namespace Tessera.Kernels;

/// <summary>
/// The left operand op(A) (m×k) of a GEMM, packed once into the micro-kernel's MR-row panel layout, for
/// matrices that are multiplied many times (inference weights, ONNX initializers, conv filters in eval mode).
/// Create with <see cref="GemmKernel.PackA(bool, int, int, ReadOnlySpan{float}, int)"/> and pass to
/// <see cref="GemmKernel.SgemmPacked(PackedGemmOperand{float}, bool, int, float, ReadOnlySpan{float}, int, float, Span{float}, int)"/>;
/// results are bit-identical to the unpacked call with the same kernel.
/// </summary>
/// <remarks>
/// Layout: for every k-block pc (of <see cref="KC"/> columns, the last one shorter) the block holds all
/// <see cref="PaddedRows"/> rows as consecutive MR×kc panels ([pc·PaddedRows + r·MR·kc + p·MR + i]), so any
/// thread can start at any MR-aligned row. The operand records the kernel family, MR and KC it was packed
/// for and is always run with that kernel. Wiring for convolution: Conv2dKernel's forward is
/// C[outC × pixels] = W[outC × C·R·S] · col[C·R·S × pixels], so the filter reshaped to outC×(C·R·S) is A and
/// can be packed once per weight version (e.g. cached next to the initializer, re-packed when the weights change).
/// The buffer is pinned (pinned object heap) and 64-byte aligned.
/// </remarks>
public sealed class PackedGemmOperand<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _buffer;
    private readonly int _offset;

    internal PackedGemmOperand(GemmKernelKind kernel, int rows, int depth, int mr, int kc)
    {
        Kernel = kernel;
        Rows = rows;
        Depth = depth;
        MR = mr;
        KC = kc;
        PaddedRows = (rows + mr - 1) / mr * mr;
        int pad = 64 / Unsafe.SizeOf<T>();
        long length = (long)PaddedRows * depth;
        if (length + pad > Array.MaxLength)
            throw new ArgumentException($"Packed operand of {rows}×{depth} is too large.");
        _buffer = GC.AllocateUninitializedArray<T>((int)length + pad, pinned: true);
        unsafe
        {
            nint p = (nint)Unsafe.AsPointer(ref _buffer[0]);
            _offset = (int)((((p + 63) & ~(nint)63) - p) / sizeof(T));
        }
    }

    /// <summary>Rows m of op(A).</summary>
    public int Rows { get; }

    /// <summary>Columns k of op(A) (the reduction length).</summary>
    public int Depth { get; }

    /// <summary>Micro-kernel family the panels were laid out for.</summary>
    public GemmKernelKind Kernel { get; }

    /// <summary>Register-tile height the panels were packed with.</summary>
    public int MR { get; }

    /// <summary>k-block length the panels were packed with.</summary>
    public int KC { get; }

    /// <summary>Rows rounded up to a whole number of MR-row panels (padding rows are zero).</summary>
    public int PaddedRows { get; }

    /// <summary>Start of the aligned panel data; valid for the operand's lifetime (the array is pinned).</summary>
    internal unsafe T* Data => (T*)Unsafe.AsPointer(ref _buffer[_offset]);
}

public static partial class GemmKernel
{
    /// <summary>
    /// Packs op(A) (m×k; stored k×m when <paramref name="transA"/>) once for repeated
    /// <see cref="SgemmPacked(PackedGemmOperand{float}, bool, int, float, ReadOnlySpan{float}, int, float, Span{float}, int)"/> calls.
    /// </summary>
    public static PackedGemmOperand<float> PackA(bool transA, int m, int k, ReadOnlySpan<float> a, int lda)
        => PackOperand(transA, m, k, a, lda);

    /// <summary>Double-precision <see cref="PackA(bool, int, int, ReadOnlySpan{float}, int)"/>.</summary>
    public static PackedGemmOperand<double> PackA(bool transA, int m, int k, ReadOnlySpan<double> a, int lda)
        => PackOperand(transA, m, k, a, lda);

    /// <summary>C = alpha·A·op(B) + beta·C with a pre-packed A (m = a.Rows, k = a.Depth); B is k×n after op.</summary>
    public static void SgemmPacked(PackedGemmOperand<float> a, bool transB, int n, float alpha,
        ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
        => GemmPacked(a, transB, n, alpha, b, ldb, beta, c, ldc);

    /// <summary>Double-precision <see cref="SgemmPacked(PackedGemmOperand{float}, bool, int, float, ReadOnlySpan{float}, int, float, Span{float}, int)"/>.</summary>
    public static void DgemmPacked(PackedGemmOperand<double> a, bool transB, int n, double alpha,
        ReadOnlySpan<double> b, int ldb, double beta, Span<double> c, int ldc)
        => GemmPacked(a, transB, n, alpha, b, ldb, beta, c, ldc);

    private static unsafe PackedGemmOperand<T> PackOperand<T>(bool transA, int m, int k, ReadOnlySpan<T> a, int lda)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(m);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        if (transA) CheckOperand(a.Length, k, m, lda, nameof(a));
        else CheckOperand(a.Length, m, k, lda, nameof(a));

        var t = GetTiling<T>(ActiveKernel);
        var packed = new PackedGemmOperand<T>(t.Kind, m, k, t.MR, t.KC);
        T* dst = packed.Data;
        fixed (T* pa = a)
        {
            for (int pc = 0; pc < k; pc += t.KC)
            {
                int kc = Math.Min(t.KC, k - pc);
                T* src = transA ? pa + (long)pc * lda : pa + pc;
                PackA(t.Kind, transA, src, lda, m, kc, dst + (long)pc * packed.PaddedRows, t.MR);
            }
        }
        return packed;
    }

    private static unsafe void GemmPacked<T>(PackedGemmOperand<T> a, bool transB, int n, T alpha,
        ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        int m = a.Rows, k = a.Depth;
        if (n == 0) return;
        CheckOperand(c.Length, m, n, ldc, nameof(c));
        if (transB) CheckOperand(b.Length, n, k, ldb, nameof(b));
        else CheckOperand(b.Length, k, n, ldb, nameof(b));

        fixed (T* pb = b)
        fixed (T* pc = c)
        {
            if (alpha == T.Zero)
            {
                ScaleC(m, n, beta, pc, ldc);
                return;
            }
            // Always the packed path (the panels are already paid for), with the kernel and KC they were packed for.
            var tiling = GetTiling<T>(a.Kernel, a.KC);
            long work = (long)m * n * k;
            int threads = (int)Math.Min(MaxThreads, Math.Max(1, work / MinWorkPerThread));
            if (threads <= 1)
                Blocked(in tiling, false, transB, m, n, k, alpha, null, 0, pb, ldb, beta, pc, ldc, a.Data, a.PaddedRows);
            else
                Threaded(in tiling, threads, false, transB, m, n, k, alpha, null, 0, pb, ldb, beta, pc, ldc, a.Data, a.PaddedRows);
            GC.KeepAlive(a);
        }
    }
}
