using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Tessera.Kernels;

// The backward (training) half of Conv2dKernel: gradients with respect to the input, the weight and the bias.
public static unsafe partial class Conv2dKernel
{
    // ------------------------------------------------------------------------------------------------------
    // Backward data
    // ------------------------------------------------------------------------------------------------------

    /// <summary>dx = convᵀ(dy, w) (gradient of the forward with respect to x). Overwrites dx.</summary>
    public static void BackwardData<T>(in Conv2dGeometry g, ReadOnlySpan<T> dy, ReadOnlySpan<T> w, Span<T> dx)
        where T : unmanaged, IFloatingPointIeee754<T>
        => BackwardData(g, dy, w, dx, DefaultColBudget);

    internal static void BackwardData<T>(in Conv2dGeometry g, ReadOnlySpan<T> dy, ReadOnlySpan<T> w, Span<T> dx, long colBudget)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (IsDepthwise(g)) { DepthwiseBackwardData(g, dy, w, dx); return; }

        int n = g.N, c = g.C, k = g.K, groups = g.Groups;
        int cg = c / groups, kg = k / groups, p = g.OutH * g.OutW, hw = g.H * g.W;
        int crs = cg * g.R * g.S;
        int nb = ChunkImages(g, crs, p, colBudget);
        bool direct = IsPointwise(g) && nb == 1;

        if (!direct) dx.Clear();
        T[]? colArr = direct ? null : ArrayPool<T>.Shared.Rent(crs * nb * p);
        T[]? dyArr = nb > 1 ? ArrayPool<T>.Shared.Rent(kg * nb * p) : null;
        try
        {
            fixed (T* pdy = dy, pdx = dx)
            {
                for (int n0 = 0; n0 < n; n0 += nb)
                {
                    int cnt = Math.Min(nb, n - n0);
                    int ldCol = cnt * p;
                    for (int gi = 0; gi < groups; gi++)
                    {
                        ReadOnlySpan<T> wg = w.Slice(gi * kg * crs, kg * crs);
                        ReadOnlySpan<T> b;
                        int ldb;
                        if (cnt == 1)
                        {
                            b = dy.Slice((n0 * k + gi * kg) * p, kg * p);
                            ldb = p;
                        }
                        else
                        {
                            GatherRows(pdy, dyArr!, n0, cnt, k, gi * kg, kg, p);
                            b = dyArr.AsSpan(0, kg * ldCol);
                            ldb = ldCol;
                        }

                        if (direct)
                        {
                            Span<T> dxg = dx.Slice((n0 * c + gi * cg) * hw, cg * hw);
                            Gemm(true, false, crs, p, kg, T.One, wg, crs, b, ldb, T.Zero, dxg, hw);
                        }
                        else
                        {
                            Gemm(true, false, crs, ldCol, kg, T.One, wg, crs, b, ldb, T.Zero, colArr.AsSpan(0, crs * ldCol), ldCol);
                            Col2Im(g, colArr!, n0, cnt, gi * cg, pdx);
                        }
                    }
                }
            }
        }
        finally
        {
            if (colArr != null) ArrayPool<T>.Shared.Return(colArr);
            if (dyArr != null) ArrayPool<T>.Shared.Return(dyArr);
        }
    }

    /// <summary>Accumulates the column matrix (layout as in <see cref="Im2Col{T}"/>) back into dx.</summary>
    private static void Col2Im<T>(in Conv2dGeometry g, T[] col, int n0, int cnt, int c0, T* dx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var geo = g;
        int cg = g.C / g.Groups, p = g.OutH * g.OutW, hw = g.H * g.W, rs = g.R * g.S;
        int ldCol = cnt * p;
        nint adx = (nint)dx;
        fixed (T* pc0 = col)
        {
            nint ac = (nint)pc0;
            For(cnt * cg, (long)rs * p, job =>
            {
                int i = job / cg, cl = job % cg;
                T* dxp = (T*)adx + ((long)(n0 + i) * geo.C + c0 + cl) * hw;
                T* cp = (T*)ac + (long)cl * rs * ldCol + (long)i * p;
                Col2ImPlane(geo, cp, ldCol, dxp);
            });
        }
    }

    private static void Col2ImPlane<T>(in Conv2dGeometry g, T* cp, int ldCol, T* dxp)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int outH = g.OutH, outW = g.OutW, sw = g.StrideW;
        for (int r = 0; r < g.R; r++)
        {
            for (int s = 0; s < g.S; s++)
            {
                T* src = cp + (long)(r * g.S + s) * ldCol;
                int off = s * g.DilationW - g.PadLeft;
                ValidRange(off, sw, outW, g.W, out int lo, out int hi);
                if (hi <= lo) continue;
                for (int oh = 0; oh < outH; oh++)
                {
                    int ih = oh * g.StrideH - g.PadTop + r * g.DilationH;
                    if ((uint)ih >= (uint)g.H) continue;
                    T* srow = src + oh * outW;
                    T* xrow = dxp + ih * g.W;
                    if (sw == 1)
                    {
                        AddShortRow(xrow + lo + off, srow + lo, hi - lo);
                    }
                    else
                    {
                        for (int ow = lo; ow < hi; ow++)
                            xrow[ow * sw + off] += srow[ow];
                    }
                }
            }
        }
    }

    /// <summary>
    /// dst[i] += src[i] for a row segment. Segments here are one output row (a dozen or so elements, millions of
    /// them per step), where a TensorPrimitives call costs more than the additions: measured 33 ns per 14-element
    /// call, col2im being 2/3 of conv2's backward-data time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddShortRow<T>(T* dst, T* src, int len)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int t = 0;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
            for (; t <= len - Vector256<T>.Count; t += Vector256<T>.Count)
                Vector256.Store(Vector256.Load(dst + t) + Vector256.Load(src + t), dst + t);
        if (Vector128.IsHardwareAccelerated && Vector128<T>.IsSupported)
            for (; t <= len - Vector128<T>.Count; t += Vector128<T>.Count)
                Vector128.Store(Vector128.Load(dst + t) + Vector128.Load(src + t), dst + t);
        for (; t < len; t++) dst[t] += src[t];
    }

    // ------------------------------------------------------------------------------------------------------
    // Backward weight
    // ------------------------------------------------------------------------------------------------------

    /// <summary>dw = Σ over the batch of dy ⋆ x (gradient of the forward with respect to w). Overwrites dw.</summary>
    public static void BackwardWeight<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dw)
        where T : unmanaged, IFloatingPointIeee754<T>
        => BackwardWeight(g, x, dy, dw, DefaultColBudget);

    internal static void BackwardWeight<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dw, long colBudget)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (IsDepthwise(g)) { DepthwiseBackwardWeight(g, x, dy, dw); return; }

        int n = g.N, c = g.C, k = g.K, groups = g.Groups;
        int cg = c / groups, kg = k / groups, p = g.OutH * g.OutW, hw = g.H * g.W;
        int crs = cg * g.R * g.S;
        if (n == 0 || p == 0) { dw.Clear(); return; }
        int nb = ChunkImages(g, crs, p, colBudget);
        bool direct = IsPointwise(g) && nb == 1;
        if (!direct && crs <= SmallCrsMax) { BackwardWeightSmallCrs(g, x, dy, dw, nb); return; }

        T[]? colArr = direct ? null : ArrayPool<T>.Shared.Rent(crs * nb * p);
        T[]? dyArr = nb > 1 ? ArrayPool<T>.Shared.Rent(kg * nb * p) : null;
        try
        {
            fixed (T* px = x, pdy = dy)
            {
                for (int n0 = 0; n0 < n; n0 += nb)
                {
                    int cnt = Math.Min(nb, n - n0);
                    int ldCol = cnt * p;
                    T beta = n0 == 0 ? T.Zero : T.One;
                    for (int gi = 0; gi < groups; gi++)
                    {
                        ReadOnlySpan<T> a;
                        int lda;
                        if (cnt == 1)
                        {
                            a = dy.Slice((n0 * k + gi * kg) * p, kg * p);
                            lda = p;
                        }
                        else
                        {
                            GatherRows(pdy, dyArr!, n0, cnt, k, gi * kg, kg, p);
                            a = dyArr.AsSpan(0, kg * ldCol);
                            lda = ldCol;
                        }

                        ReadOnlySpan<T> b;
                        int ldb;
                        if (direct)
                        {
                            b = x.Slice((n0 * c + gi * cg) * hw, cg * hw);
                            ldb = hw;
                        }
                        else
                        {
                            Im2Col(g, px, n0, cnt, gi * cg, colArr!);
                            b = colArr.AsSpan(0, crs * ldCol);
                            ldb = ldCol;
                        }

                        Gemm(false, true, kg, crs, ldCol, T.One, a, lda, b, ldb, beta, dw.Slice(gi * kg * crs, kg * crs), crs);
                    }
                }
            }
        }
        finally
        {
            if (colArr != null) ArrayPool<T>.Shared.Return(colArr);
            if (dyArr != null) ArrayPool<T>.Shared.Return(dyArr);
        }
    }

    /// <summary>
    /// Weight gradients with at most this many (c, r, s) columns per output channel (first layers: 1 or 3 input
    /// channels) are computed as dot products: as a GEMM they are K × (tiny) × (batch · pixels), a shape a blocked
    /// GEMM handles badly (conv1 of the Fashion-MNIST CNN, 32 × 9 × 50 176, ran at 4 GFLOP/s).
    /// </summary>
    private const int SmallCrsMax = 32;

    /// <summary>
    /// dw[k, j] = Σ over images and pixels of dy[n, k, :] · col[j, n, :], reading dy in place (no gather) and the
    /// column matrix of a chunk of images; each output channel is one job, its sums in a fixed order (deterministic).
    /// </summary>
    private static void BackwardWeightSmallCrs<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dw, int nb)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = g.N, k = g.K, groups = g.Groups;
        int cg = g.C / groups, kg = k / groups, p = g.OutH * g.OutW;
        int crs = cg * g.R * g.S;
        T[] colArr = ArrayPool<T>.Shared.Rent(crs * nb * p);
        try
        {
            fixed (T* px = x, pdy = dy, pdw = dw, pcol = colArr)
            {
                nint ady = (nint)pdy, adw = (nint)pdw, acol = (nint)pcol;
                for (int n0 = 0; n0 < n; n0 += nb)
                {
                    int cnt = Math.Min(nb, n - n0), ldCol = cnt * p, start = n0;
                    bool overwrite = n0 == 0;
                    for (int gi = 0; gi < groups; gi++)
                    {
                        Im2Col(g, px, n0, cnt, gi * cg, colArr);
                        int k0 = gi * kg;
                        For(kg, (long)crs * ldCol, kk => DotRows(
                            (T*)ady + ((long)start * k + k0 + kk) * p, (long)k * p, cnt, p,
                            (T*)acol, ldCol, crs, (T*)adw + (long)(k0 + kk) * crs, overwrite));
                    }
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(colArr);
        }
    }

    /// <summary>
    /// out[j] (+)= Σ_i Σ_t a[i·aImageStride + t] · col[j·ldCol + i·p + t] for j &lt; crs: up to four column rows per
    /// sweep so each load of a feeds four multiply-adds.
    /// </summary>
    private static void DotRows<T>(T* a, long aImageStride, int cnt, int p, T* col, int ldCol, int crs, T* output, bool overwrite)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int sweeps = (crs + 3) / 4, size = (crs + sweeps - 1) / sweeps;
        int vl = Vector<T>.Count;
        for (int j0 = 0; j0 < crs; j0 += size)
        {
            int jn = Math.Min(size, crs - j0);
            // Rows past jn alias row j0; their sums are computed and dropped.
            T* b0 = col + (long)j0 * ldCol;
            T* b1 = jn > 1 ? b0 + ldCol : b0, b2 = jn > 2 ? b0 + 2L * ldCol : b0, b3 = jn > 3 ? b0 + 3L * ldCol : b0;
            Vector<T> v0 = default, v1 = default, v2 = default, v3 = default;
            T s0 = T.Zero, s1 = T.Zero, s2 = T.Zero, s3 = T.Zero;
            for (int i = 0; i < cnt; i++)
            {
                T* ai = a + i * aImageStride;
                long o = (long)i * p;
                int t = 0;
                if (Vector.IsHardwareAccelerated)
                {
                    for (; t <= p - vl; t += vl)
                    {
                        var va = Unsafe.ReadUnaligned<Vector<T>>(ai + t);
                        v0 += va * Unsafe.ReadUnaligned<Vector<T>>(b0 + o + t);
                        v1 += va * Unsafe.ReadUnaligned<Vector<T>>(b1 + o + t);
                        v2 += va * Unsafe.ReadUnaligned<Vector<T>>(b2 + o + t);
                        v3 += va * Unsafe.ReadUnaligned<Vector<T>>(b3 + o + t);
                    }
                }
                for (; t < p; t++)
                {
                    T at = ai[t];
                    s0 += at * b0[o + t]; s1 += at * b1[o + t]; s2 += at * b2[o + t]; s3 += at * b3[o + t];
                }
            }
            Span<T> sums = [Vector.Sum(v0) + s0, Vector.Sum(v1) + s1, Vector.Sum(v2) + s2, Vector.Sum(v3) + s3];
            for (int q = 0; q < jn; q++)
                output[j0 + q] = overwrite ? sums[q] : output[j0 + q] + sums[q];
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Backward bias
    // ------------------------------------------------------------------------------------------------------

    /// <summary>db[k] = Σ over n, oh, ow of dy[n, k, oh, ow]. Overwrites db.</summary>
    public static void BackwardBias<T>(in Conv2dGeometry g, ReadOnlySpan<T> dy, Span<T> db)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int p = g.OutH * g.OutW, k = g.K;
        db.Slice(0, k).Clear();
        for (int i = 0; i < g.N; i++)
            for (int kk = 0; kk < k; kk++)
                db[kk] += TensorPrimitives.Sum(dy.Slice((i * k + kk) * p, p));
    }
}
