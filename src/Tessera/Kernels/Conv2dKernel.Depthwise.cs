using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tessera.Kernels;

/// <summary>Depthwise convolution (groups == C, any channel multiplier): direct loops, no GEMM.</summary>
public static unsafe partial class Conv2dKernel
{
    // ------------------------------------------------------------------------------------------------------
    // Depthwise (groups == C): direct loops
    // ------------------------------------------------------------------------------------------------------

    /// <summary>True when every group has exactly one input channel (and there is more than one group).</summary>
    private static bool IsDepthwise(in Conv2dGeometry g) => g.Groups > 1 && g.Groups == g.C;

    private static bool IsPointwise(in Conv2dGeometry g) =>
        g.R == 1 && g.S == 1 && g.StrideH == 1 && g.StrideW == 1 &&
        g.PadTop == 0 && g.PadLeft == 0 && g.PadBottom == 0 && g.PadRight == 0;

    /// <summary>
    /// The row-by-row depthwise forward (before the phase-plane kernel): kernels with more taps than
    /// <see cref="MaxRowTaps"/>, and the reference the phase-plane kernel is tested against.
    /// </summary>
    internal static void DepthwiseForwardByRows<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias,
        ReadOnlySpan<T> residual, in ConvEpilogue epilogue, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var geo = g;
        var ep = epilogue;
        int mult = g.K / g.C, p = g.OutH * g.OutW, hw = g.H * g.W, rs = g.R * g.S;
        bool hasBias = !bias.IsEmpty;
        bool epilogueWork = !residual.IsEmpty || ep.Activation != ConvActivation.None;
        fixed (T* px0 = x, pw0 = w, pb0 = bias, py0 = y, pr0 = residual)
        {
            nint ax = (nint)px0, aw = (nint)pw0, ab = (nint)pb0, ay = (nint)py0, ar = (nint)pr0;
            For(g.N * g.K, (long)p * rs, job =>
            {
                int i = job / geo.K, kk = job % geo.K, ch = kk / mult;
                T* xp = (T*)ax + ((long)i * geo.C + ch) * hw;
                T* wp = (T*)aw + (long)kk * rs;
                T* yp = (T*)ay + (long)job * p;
                T b0 = hasBias ? ((T*)ab)[kk] : T.Zero;
                DepthwisePlaneForward(geo, xp, wp, b0, yp);
                // The bias is the accumulators' starting value above, as in the unfused op.
                if (epilogueWork) ep.Apply(yp, p, false, T.Zero, ar == 0 ? null : (T*)ar + (long)job * p);
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
}
