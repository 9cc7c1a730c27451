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
public static unsafe class Conv2dKernel
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
    // Forward
    // ------------------------------------------------------------------------------------------------------

    /// <summary>y = conv(x, w) + bias. Overwrites y.</summary>
    public static void Forward<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Forward(g, x, w, bias, y, DefaultColBudget);

    internal static void Forward<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias, Span<T> y, long colBudget)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (IsDepthwise(g)) { DepthwiseForward(g, x, w, bias, y); return; }

        int n = g.N, c = g.C, k = g.K, groups = g.Groups;
        int cg = c / groups, kg = k / groups, p = g.OutH * g.OutW, hw = g.H * g.W;
        int crs = cg * g.R * g.S;
        int nb = ChunkImages(g, crs, p, colBudget);
        bool direct = IsPointwise(g) && nb == 1;

        T[]? colArr = direct ? null : ArrayPool<T>.Shared.Rent(crs * nb * p);
        T[]? outArr = nb > 1 ? ArrayPool<T>.Shared.Rent(kg * nb * p) : null;
        try
        {
            fixed (T* px = x, py = y, pb = bias)
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

                        if (cnt == 1)
                        {
                            Span<T> yg = y.Slice((n0 * k + gi * kg) * p, kg * p);
                            Gemm(false, false, kg, p, crs, T.One, wg, crs, b, ldb, T.Zero, yg, p);
                            if (!bias.IsEmpty)
                                for (int kk = 0; kk < kg; kk++)
                                    TensorPrimitives.Add(yg.Slice(kk * p, p), bias[gi * kg + kk], yg.Slice(kk * p, p));
                        }
                        else
                        {
                            Span<T> o = outArr.AsSpan(0, kg * ldCol);
                            Gemm(false, false, kg, ldCol, crs, T.One, wg, crs, b, ldb, T.Zero, o, ldCol);
                            ScatterRows(outArr!, py, pb, bias.Length > 0, n0, cnt, k, gi * kg, kg, p);
                        }
                    }
                }
            }
        }
        finally
        {
            if (colArr != null) ArrayPool<T>.Shared.Return(colArr);
            if (outArr != null) ArrayPool<T>.Shared.Return(outArr);
        }
    }

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

    // ------------------------------------------------------------------------------------------------------
    // Depthwise (groups == C): direct loops
    // ------------------------------------------------------------------------------------------------------

    /// <summary>True when every group has exactly one input channel (and there is more than one group).</summary>
    private static bool IsDepthwise(in Conv2dGeometry g) => g.Groups > 1 && g.Groups == g.C;

    private static bool IsPointwise(in Conv2dGeometry g) =>
        g.R == 1 && g.S == 1 && g.StrideH == 1 && g.StrideW == 1 &&
        g.PadTop == 0 && g.PadLeft == 0 && g.PadBottom == 0 && g.PadRight == 0;

    private static void DepthwiseForward<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var geo = g;
        int mult = g.K / g.C, p = g.OutH * g.OutW, hw = g.H * g.W, rs = g.R * g.S;
        bool hasBias = !bias.IsEmpty;
        fixed (T* px0 = x, pw0 = w, pb0 = bias, py0 = y)
        {
            nint ax = (nint)px0, aw = (nint)pw0, ab = (nint)pb0, ay = (nint)py0;
            For(g.N * g.K, (long)p * rs, job =>
            {
                int i = job / geo.K, kk = job % geo.K, ch = kk / mult;
                T* xp = (T*)ax + ((long)i * geo.C + ch) * hw;
                T* wp = (T*)aw + (long)kk * rs;
                T* yp = (T*)ay + (long)job * p;
                T b0 = hasBias ? ((T*)ab)[kk] : T.Zero;
                DepthwisePlaneForward(geo, xp, wp, b0, yp);
            });
        }
    }

    private static void DepthwisePlaneForward<T>(in Conv2dGeometry g, T* xp, T* wp, T b0, T* yp)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int outH = g.OutH, outW = g.OutW, sw = g.StrideW;
        if (sw == 1 && g.R * g.S <= MaxRowTaps)
        {
            // Unit horizontal stride: each output row is a sum of shifted input rows, computed in registers.
            int rsTaps = g.R * g.S;
            nint* rows = stackalloc nint[rsTaps];
            T* wts = stackalloc T[rsTaps];
            int* offs = stackalloc int[rsTaps];
            for (int oh = 0; oh < outH; oh++)
            {
                int taps = 0;
                for (int r = 0; r < g.R; r++)
                {
                    int ih = oh * g.StrideH - g.PadTop + r * g.DilationH;
                    if ((uint)ih >= (uint)g.H) continue;
                    for (int s = 0; s < g.S; s++)
                    {
                        rows[taps] = (nint)(xp + ih * g.W);
                        wts[taps] = wp[r * g.S + s];
                        offs[taps] = s * g.DilationW - g.PadLeft;
                        taps++;
                    }
                }
                CorrelateRow(yp + oh * outW, outW, b0, rows, wts, offs, taps, g.W);
            }
            return;
        }
        for (int oh = 0; oh < outH; oh++)
        {
            var yrow = new Span<T>(yp + oh * outW, outW);
            yrow.Fill(b0);
            for (int r = 0; r < g.R; r++)
            {
                int ih = oh * g.StrideH - g.PadTop + r * g.DilationH;
                if ((uint)ih >= (uint)g.H) continue;
                T* xrow = xp + ih * g.W;
                for (int s = 0; s < g.S; s++)
                {
                    int off = s * g.DilationW - g.PadLeft;
                    ValidRange(off, sw, outW, g.W, out int lo, out int hi);
                    if (hi <= lo) continue;
                    T wv = wp[r * g.S + s];
                    if (sw == 1)
                    {
                        var seg = yrow.Slice(lo, hi - lo);
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<T>(xrow + lo + off, hi - lo), wv, seg, seg);
                    }
                    else
                    {
                        for (int ow = lo; ow < hi; ow++)
                            yrow[ow] += wv * xrow[ow * sw + off];
                    }
                }
            }
        }
    }

    private static void DepthwiseBackwardData<T>(in Conv2dGeometry g, ReadOnlySpan<T> dy, ReadOnlySpan<T> w, Span<T> dx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var geo = g;
        int mult = g.K / g.C, p = g.OutH * g.OutW, hw = g.H * g.W, rs = g.R * g.S;
        int tapsMax = mult * rs;
        bool unitStride = g.StrideH == 1 && g.StrideW == 1 && tapsMax <= MaxRowTaps;
        fixed (T* pdy0 = dy, pw0 = w, pdx0 = dx)
        {
            nint ady = (nint)pdy0, aw = (nint)pw0, adx = (nint)pdx0;
            For(g.N * g.C, (long)p * rs * mult, job =>
            {
                int i = job / geo.C, ch = job % geo.C;
                T* dxp = (T*)adx + (long)job * hw;
                if (unitStride)
                {
                    // Gather form: dx row ih = Σ over (m, r, s) of w · (dy row ih + padTop - r·dilH, shifted).
                    nint* rows = stackalloc nint[tapsMax];
                    T* wts = stackalloc T[tapsMax];
                    int* offs = stackalloc int[tapsMax];
                    for (int ih = 0; ih < geo.H; ih++)
                    {
                        int taps = 0;
                        for (int m = 0; m < mult; m++)
                        {
                            int kk = ch * mult + m;
                            T* dyp = (T*)ady + ((long)i * geo.K + kk) * p;
                            T* wp = (T*)aw + (long)kk * rs;
                            for (int r = 0; r < geo.R; r++)
                            {
                                int oh = ih + geo.PadTop - r * geo.DilationH;
                                if ((uint)oh >= (uint)geo.OutH) continue;
                                for (int s = 0; s < geo.S; s++)
                                {
                                    rows[taps] = (nint)(dyp + oh * geo.OutW);
                                    wts[taps] = wp[r * geo.S + s];
                                    offs[taps] = geo.PadLeft - s * geo.DilationW;
                                    taps++;
                                }
                            }
                        }
                        CorrelateRow(dxp + ih * geo.W, geo.W, T.Zero, rows, wts, offs, taps, geo.OutW);
                    }
                    return;
                }
                new Span<T>(dxp, hw).Clear();
                for (int m = 0; m < mult; m++)
                {
                    int kk = ch * mult + m;
                    T* dyp = (T*)ady + ((long)i * geo.K + kk) * p;
                    T* wp = (T*)aw + (long)kk * rs;
                    DepthwisePlaneBackwardData(geo, dyp, wp, dxp);
                }
            });
        }
    }

    private static void DepthwisePlaneBackwardData<T>(in Conv2dGeometry g, T* dyp, T* wp, T* dxp)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int outH = g.OutH, outW = g.OutW, sw = g.StrideW;
        for (int oh = 0; oh < outH; oh++)
        {
            var dyrow = new ReadOnlySpan<T>(dyp + oh * outW, outW);
            for (int r = 0; r < g.R; r++)
            {
                int ih = oh * g.StrideH - g.PadTop + r * g.DilationH;
                if ((uint)ih >= (uint)g.H) continue;
                T* dxrow = dxp + ih * g.W;
                for (int s = 0; s < g.S; s++)
                {
                    int off = s * g.DilationW - g.PadLeft;
                    ValidRange(off, sw, outW, g.W, out int lo, out int hi);
                    if (hi <= lo) continue;
                    T wv = wp[r * g.S + s];
                    if (sw == 1)
                    {
                        var seg = new Span<T>(dxrow + lo + off, hi - lo);
                        TensorPrimitives.MultiplyAdd(dyrow.Slice(lo, hi - lo), wv, seg, seg);
                    }
                    else
                    {
                        for (int ow = lo; ow < hi; ow++)
                            dxrow[ow * sw + off] += wv * dyrow[ow];
                    }
                }
            }
        }
    }

    private static void DepthwiseBackwardWeight<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dw)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var geo = g;
        int mult = g.K / g.C, p = g.OutH * g.OutW, hw = g.H * g.W, rs = g.R * g.S;
        fixed (T* px0 = x, pdy0 = dy, pdw0 = dw)
        {
            nint ax = (nint)px0, ady = (nint)pdy0, adw = (nint)pdw0;
            For(g.K, (long)p * rs * g.N, kk =>
            {
                int ch = kk / mult;
                T* dwp = (T*)adw + (long)kk * rs;
                new Span<T>(dwp, rs).Clear();
                int outH = geo.OutH, outW = geo.OutW, sw = geo.StrideW;
                for (int i = 0; i < geo.N; i++)
                {
                    T* xp = (T*)ax + ((long)i * geo.C + ch) * hw;
                    T* dyp = (T*)ady + ((long)i * geo.K + kk) * p;
                    for (int oh = 0; oh < outH; oh++)
                    {
                        var dyrow = new ReadOnlySpan<T>(dyp + oh * outW, outW);
                        for (int r = 0; r < geo.R; r++)
                        {
                            int ih = oh * geo.StrideH - geo.PadTop + r * geo.DilationH;
                            if ((uint)ih >= (uint)geo.H) continue;
                            T* xrow = xp + ih * geo.W;
                            for (int s = 0; s < geo.S; s++)
                            {
                                int off = s * geo.DilationW - geo.PadLeft;
                                ValidRange(off, sw, outW, geo.W, out int lo, out int hi);
                                if (hi <= lo) continue;
                                T acc;
                                if (sw == 1)
                                {
                                    acc = TensorPrimitives.Dot(new ReadOnlySpan<T>(xrow + lo + off, hi - lo), dyrow.Slice(lo, hi - lo));
                                }
                                else
                                {
                                    acc = T.Zero;
                                    for (int ow = lo; ow < hi; ow++)
                                        acc += xrow[ow * sw + off] * dyrow[ow];
                                }
                                dwp[r * geo.S + s] += acc;
                            }
                        }
                    }
                }
            });
        }
    }

    /// <summary>Most taps the register-blocked depthwise row kernel takes (they live on the stack).</summary>
    private const int MaxRowTaps = 64;

    /// <summary>
    /// dst[j] = init + Σ_t wts[t] · src_t[j + offs[t]] for j in [0, len), skipping terms whose source index
    /// falls outside [0, srcLen) (zero padding). src_t = (T*)rows[t]. The interior, where every tap is in
    /// bounds, is vectorised with the accumulator held in a register.
    /// </summary>
    private static void CorrelateRow<T>(T* dst, int len, T init, nint* rows, T* wts, int* offs, int taps, int srcLen)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int jlo = 0, jhi = len;
        for (int t = 0; t < taps; t++)
        {
            jlo = Math.Max(jlo, -offs[t]);
            jhi = Math.Min(jhi, srcLen - offs[t]);
        }
        jlo = Math.Min(jlo, len);
        if (jhi < jlo) jhi = jlo;

        for (int j = 0; j < jlo; j++) dst[j] = EdgeTap(j, init, rows, wts, offs, taps, srcLen);
        for (int j = jhi; j < len; j++) dst[j] = EdgeTap(j, init, rows, wts, offs, taps, srcLen);

        int jj = jlo;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            int vc = Vector<T>.Count;
            var vinit = new Vector<T>(init);
            for (; jj <= jhi - vc; jj += vc)
            {
                var acc = vinit;
                for (int t = 0; t < taps; t++)
                    acc += new Vector<T>(wts[t]) * Unsafe.ReadUnaligned<Vector<T>>((T*)rows[t] + jj + offs[t]);
                Unsafe.WriteUnaligned(dst + jj, acc);
            }
        }
        for (; jj < jhi; jj++)
        {
            T acc = init;
            for (int t = 0; t < taps; t++) acc += wts[t] * ((T*)rows[t])[jj + offs[t]];
            dst[jj] = acc;
        }
    }

    private static T EdgeTap<T>(int j, T init, nint* rows, T* wts, int* offs, int taps, int srcLen)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T acc = init;
        for (int t = 0; t < taps; t++)
        {
            int q = j + offs[t];
            if ((uint)q < (uint)srcLen) acc += wts[t] * ((T*)rows[t])[q];
        }
        return acc;
    }

    // ------------------------------------------------------------------------------------------------------
    // im2col / col2im and batch scatter / gather
    // ------------------------------------------------------------------------------------------------------

    /// <summary>
    /// Number of images laid side by side in one column matrix: as many as fit the budget, at least one.
    /// Large pointwise planes use one image at a time so the input feeds the GEMM without a copy.
    /// </summary>
    private static int ChunkImages(in Conv2dGeometry g, int crs, int p, long colBudget)
    {
        if (IsPointwise(g) && p >= PointwiseDirectMinPixels) return 1;
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
                        var seg = new Span<T>(xrow + lo + off, hi - lo);
                        TensorPrimitives.Add(seg, new ReadOnlySpan<T>(srow + lo, hi - lo), seg);
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

    /// <summary>y[n0+i, k0+kk, :] = o[kk, i·P .. (i+1)·P) (+ bias[k0+kk]).</summary>
    private static void ScatterRows<T>(T[] o, T* y, T* bias, bool hasBias, int n0, int cnt, int k, int k0, int kg, int p)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint ay = (nint)y, ab = (nint)bias;
        int ldo = cnt * p;
        fixed (T* po0 = o)
        {
            nint ao = (nint)po0;
            For(cnt * kg, p, job =>
            {
                int i = job / kg, kk = job % kg;
                var src = new ReadOnlySpan<T>((T*)ao + (long)kk * ldo + (long)i * p, p);
                var dst = new Span<T>((T*)ay + ((long)(n0 + i) * k + k0 + kk) * p, p);
                if (hasBias) TensorPrimitives.Add(src, ((T*)ab)[k0 + kk], dst);
                else src.CopyTo(dst);
            });
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

    /// <summary>Runs body(0..count-1), in parallel when there is enough work and more than one core.</summary>
    internal static void For(int count, long workPerItem, Action<int> body)
    {
        if (count > 1 && Environment.ProcessorCount > 1 && count * workPerItem >= ParallelMinElements)
            Parallel.For(0, count, body);
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
