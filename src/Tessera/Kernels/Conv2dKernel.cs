using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tessera.Kernels;

/// <summary>
/// 2-D convolution over NCHW tensors (cross-correlation, as in every ML framework): forward, backward data,
/// backward weight and backward bias. Pure computation over spans; callers validate shapes.
/// <para>
/// Strategy: im2col + GEMM per group, with several images laid side by side in one column matrix so a single
/// GEMM covers a chunk of the batch (the GEMM threads internally; the im2col / col2im / scatter phases are
/// parallelised over images × channels and never run concurrently with the GEMM, so threads are not
/// oversubscribed). Pointwise convolutions (1×1, stride 1, no padding) with large planes skip im2col and feed
/// the input directly to the GEMM. Depthwise convolutions (groups == C) use direct vectorised loops.
/// </para>
/// Layouts: x is N×C×H×W, w is K×(C/groups)×R×S, bias is K (or empty), y is N×K×OutH×OutW.
/// </summary>
public static unsafe partial class Conv2dKernel
{
    /// <summary>
    /// Default upper bound, in elements, of the im2col scratch for one chunk of images (2 MiB of floats): small
    /// enough that the column matrix is still in cache when the GEMM packs it, large enough that small planes
    /// (e.g. MNIST-sized) batch many images into one GEMM. A single image may exceed it.
    /// </summary>
    internal const long DefaultColBudget = 1L << 19;

    /// <summary>Pointwise convolutions whose planes have at least this many pixels go straight to the GEMM.</summary>
    private const int PointwiseDirectMinPixels = 1024;

    /// <summary>Elements a memory-bound phase must touch before it is worth running in parallel.</summary>
    private const long ParallelMinElements = 1 << 15;

    // ------------------------------------------------------------------------------------------------------
    // im2col / col2im and batch scatter / gather
    // ------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Number of images laid side by side in one column matrix: as many as fit the budget, at least one.
    /// Large pointwise planes use one image at a time so the input feeds the GEMM without a copy.
    /// </summary>
    private static int ChunkImages(in Conv2dGeometry g, int crs, int p, long colBudget)
    {
        // The 1×1 kernel reads each image in place: no reason to copy small planes side by side (double keeps the
        // GEMM then, one image at a time, which is still correct).
        if (IsPointwise(g) && (p >= PointwiseDirectMinPixels || PointwiseKernelTakes(g))) return 1;
        long perImage = Math.Max(1L, (long)crs * p);
        long nb = colBudget / perImage;
        return (int)Math.Clamp(nb, 1L, Math.Max(1L, g.N));
    }

    /// <summary>
    /// Writes the column matrix of images n0..n0+cnt-1, channels c0..c0+C/groups-1, into col:
    /// rows (c, r, s), row stride cnt·P, image i occupying columns i·P..(i+1)·P-1.
    /// </summary>
    private static void Im2Col<T>(in Conv2dGeometry g, T* x, int n0, int cnt, int c0, T[] col)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var geo = g;
        int cg = g.C / g.Groups, p = g.OutH * g.OutW, hw = g.H * g.W, rs = g.R * g.S;
        int ldCol = cnt * p;
        nint ax = (nint)x;
        fixed (T* pc0 = col)
        {
            nint ac = (nint)pc0;
            For(cnt * cg, (long)rs * p, job =>
            {
                int i = job / cg, cl = job % cg;
                T* xp = (T*)ax + ((long)(n0 + i) * geo.C + c0 + cl) * hw;
                T* cp = (T*)ac + (long)cl * rs * ldCol + (long)i * p;
                Im2ColPlane(geo, xp, cp, ldCol);
            });
        }
    }

    private static void Im2ColPlane<T>(in Conv2dGeometry g, T* xp, T* cp, int ldCol)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int outH = g.OutH, outW = g.OutW, sw = g.StrideW;
        for (int r = 0; r < g.R; r++)
        {
            for (int s = 0; s < g.S; s++)
            {
                T* dst = cp + (long)(r * g.S + s) * ldCol;
                int off = s * g.DilationW - g.PadLeft;
                ValidRange(off, sw, outW, g.W, out int lo, out int hi);
                for (int oh = 0; oh < outH; oh++)
                {
                    var d = new Span<T>(dst + oh * outW, outW);
                    int ih = oh * g.StrideH - g.PadTop + r * g.DilationH;
                    if ((uint)ih >= (uint)g.H) { d.Clear(); continue; }
                    T* xrow = xp + ih * g.W;
                    d.Slice(0, lo).Clear();
                    if (sw == 1)
                    {
                        new ReadOnlySpan<T>(xrow + lo + off, hi - lo).CopyTo(d.Slice(lo, hi - lo));
                    }
                    else
                    {
                        for (int ow = lo; ow < hi; ow++)
                            d[ow] = xrow[ow * sw + off];
                    }
                    d.Slice(hi).Clear();
                }
            }
        }
    }

    /// <summary>buf[kk, i·P .. (i+1)·P) = dy[n0+i, k0+kk, :].</summary>
    private static void GatherRows<T>(T* dy, T[] buf, int n0, int cnt, int k, int k0, int kg, int p)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint ady = (nint)dy;
        int ldb = cnt * p;
        fixed (T* pb0 = buf)
        {
            nint ab = (nint)pb0;
            For(cnt * kg, p, job =>
            {
                int i = job / kg, kk = job % kg;
                new ReadOnlySpan<T>((T*)ady + ((long)(n0 + i) * k + k0 + kk) * p, p)
                    .CopyTo(new Span<T>((T*)ab + (long)kk * ldb + (long)i * p, p));
            });
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------------

    /// <summary>
    /// The range [lo, hi) of indices o in [0, count) for which start + o·step lies in [0, limit). Always lo ≤ hi.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ValidRange(int start, int step, int count, int limit, out int lo, out int hi)
    {
        lo = start >= 0 ? 0 : (-start + step - 1) / step;
        hi = start > limit - 1 ? 0 : Math.Min(count, (limit - 1 - start) / step + 1);
        if (lo > count) lo = count;
        if (hi < lo) hi = lo;
    }

    /// <summary>
    /// Runs body(0..count-1), in parallel when there is enough work and more than one core: on at most
    /// <see cref="GemmKernel.MaxThreads"/> threads of the persistent <see cref="KernelThreads"/> pool.
    /// </summary>
    internal static void For(int count, long workPerItem, Action<int> body)
    {
        int threads = Math.Min(GemmKernel.MaxThreads, Environment.ProcessorCount);
        if (count > 1 && threads > 1 && count * workPerItem >= ParallelMinElements)
            KernelThreads.For(count, threads, body);
        else
            for (int i = 0; i < count; i++) body(i);
    }

    /// <summary>Generic GEMM front end dispatching to <see cref="GemmKernel.Sgemm"/> / <see cref="GemmKernel.Dgemm"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Gemm<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
            GemmKernel.Sgemm(transA, transB, m, n, k, Unsafe.BitCast<T, float>(alpha),
                MemoryMarshal.Cast<T, float>(a), lda, MemoryMarshal.Cast<T, float>(b), ldb,
                Unsafe.BitCast<T, float>(beta), MemoryMarshal.Cast<T, float>(c), ldc);
        else if (typeof(T) == typeof(double))
            GemmKernel.Dgemm(transA, transB, m, n, k, Unsafe.BitCast<T, double>(alpha),
                MemoryMarshal.Cast<T, double>(a), lda, MemoryMarshal.Cast<T, double>(b), ldb,
                Unsafe.BitCast<T, double>(beta), MemoryMarshal.Cast<T, double>(c), ldc);
        else
            throw new NotSupportedException($"Convolution supports float and double, not {typeof(T).Name}.");
    }
}
