using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;

namespace Tessera.Kernels;

/// <summary>
/// 2-D max / average pooling over NCHW tensors. The geometry's K must equal C (groups are ignored); the
/// window is R×S with the geometry's strides, paddings and dilations. Pure computation; callers validate.
/// Every plane (n, c) is independent; planes are processed in parallel when there is enough work.
/// </summary>
public static unsafe partial class Pool2dKernel
{
    // ------------------------------------------------------------------------------------------------------
    // Max pooling
    // ------------------------------------------------------------------------------------------------------

    /// <summary>y = max over each window; padded positions act as -∞ (a NaN in the window wins). Overwrites y.</summary>
    public static void MaxForward<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var geo = g;
        int hw = g.H * g.W, p = g.OutH * g.OutW;
        fixed (T* px0 = x, py0 = y)
        {
            nint ax = (nint)px0, ay = (nint)py0;
            if (CanMaxPool2x2Avx<T>(g))
            {
                Conv2dKernel.For(g.N * g.C, (long)hw, plane => MaxForward2x2Plane(geo, (float*)ax + (long)plane * hw, (float*)ay + (long)plane * p));
                return;
            }
            Conv2dKernel.For(g.N * g.C, (long)p * g.R * g.S, plane =>
            {
                T[] rowBuf = ArrayPool<T>.Shared.Rent(geo.W);
                fixed (T* buf = rowBuf)
                    MaxPlaneForward(geo, (T*)ax + (long)plane * hw, (T*)ay + (long)plane * p, buf);
                ArrayPool<T>.Shared.Return(rowBuf);
            });
        }
    }

    /// <summary>
    /// One plane of <see cref="MaxForward{T}"/>, separably: the window's valid input rows are reduced into one row
    /// (vectorised), then each output takes the max of its S columns of that row. Max is associative and both
    /// passes propagate NaN, so this equals the max over the window; it touches each input row once or twice
    /// instead of once per overlapping window and needs no bounds logic inside the rows.
    /// </summary>
    private static void MaxPlaneForward<T>(in Conv2dGeometry g, T* xp, T* yp, T* rowBuf)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int w = g.W, outW = g.OutW, sw = g.StrideW, dw = g.DilationW, s = g.S;
        // Outputs ow in [lo, hi) have all S taps inside the row; the others clip at the edges.
        Conv2dKernel.ValidRange(-g.PadLeft, sw, outW, w - (s - 1) * dw, out int lo, out int hi);
        for (int oh = 0; oh < g.OutH; oh++)
        {
            T* yrow = yp + (long)oh * outW;
            int h0 = oh * g.StrideH - g.PadTop;
            Conv2dKernel.ValidRange(h0, g.DilationH, g.R, g.H, out int rlo, out int rhi);
            if (rhi <= rlo) { new Span<T>(yrow, outW).Fill(T.NegativeInfinity); continue; }
            T* v = xp + (long)(h0 + rlo * g.DilationH) * w;
            if (rhi - rlo > 1)
            {
                var acc = new Span<T>(rowBuf, w);
                TensorPrimitives.Max(new ReadOnlySpan<T>(v, w), new ReadOnlySpan<T>(v + (long)g.DilationH * w, w), acc);
                for (int r = rlo + 2; r < rhi; r++)
                    TensorPrimitives.Max(acc, new ReadOnlySpan<T>(xp + (long)(h0 + r * g.DilationH) * w, w), acc);
                v = rowBuf;
            }
            for (int ow = 0; ow < lo; ow++) yrow[ow] = EdgeMax(v, ow * sw - g.PadLeft, dw, s, w);
            for (int ow = hi; ow < outW; ow++) yrow[ow] = EdgeMax(v, ow * sw - g.PadLeft, dw, s, w);
            if (s == 3 && dw == 1)
            {
                for (int ow = lo; ow < hi; ow++)
                {
                    T* q = v + ow * sw - g.PadLeft;
                    yrow[ow] = T.Max(T.Max(q[0], q[1]), q[2]);
                }
            }
            else
            {
                for (int ow = lo; ow < hi; ow++)
                {
                    T* q = v + ow * sw - g.PadLeft;
                    T m = q[0];
                    for (int t = 1; t < s; t++) m = T.Max(m, q[t * dw]);
                    yrow[ow] = m;
                }
            }
        }
    }

    /// <summary>Max of the in-row taps start + t·dilation (t &lt; taps) of row v; -∞ when none is inside.</summary>
    private static T EdgeMax<T>(T* v, int start, int dilation, int taps, int w)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T m = T.NegativeInfinity;
        for (int t = 0; t < taps; t++)
        {
            int q = start + t * dilation;
            if ((uint)q < (uint)w) m = T.Max(m, v[q]);
        }
        return m;
    }

    private static bool IsTiled2x2(in Conv2dGeometry g) =>
        g.R == 2 && g.S == 2 && g.StrideH == 2 && g.StrideW == 2 && g.DilationH == 1 && g.DilationW == 1
        && g.PadTop == 0 && g.PadLeft == 0 && g.PadBottom == 0 && g.PadRight == 0;

    /// <summary>Offset from <paramref name="r0"/> of the first maximum of the 2×2 window at column c (row-major order, NaN wins).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static int Max2x2<T>(T* r0, T* r1, int c) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rowStride = (int)(r1 - r0);
        int best = c;
        T bv = r0[c];
        if (r0[c + 1] > bv || (T.IsNaN(r0[c + 1]) && !T.IsNaN(bv))) { best = c + 1; bv = r0[c + 1]; }
        if (r1[c] > bv || (T.IsNaN(r1[c]) && !T.IsNaN(bv))) { best = rowStride + c; bv = r1[c]; }
        if (r1[c + 1] > bv || (T.IsNaN(r1[c + 1]) && !T.IsNaN(bv))) best = rowStride + c + 1;
        return best;
    }

    /// <summary>
    /// dx = gradient of <see cref="MaxForward{T}"/>: each dy goes to the arg-max of its window (the first
    /// maximum in row-major window order), accumulating where windows overlap. Overwrites dx.
    /// </summary>
    public static void MaxBackward<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx)
        where T : unmanaged, IFloatingPointIeee754<T>
        => MaxBackward(g, x, dy, dx, reluMask: false);

    /// <summary>
    /// As <see cref="MaxBackward{T}(in Conv2dGeometry, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T})"/>; with
    /// <paramref name="reluMask"/> a gradient reaches only positions where x &gt; 0, i.e. the backward pass of
    /// ReLU followed by max pooling when x is the ReLU's output (its output is positive exactly where its input is).
    /// </summary>
    public static void MaxBackward<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx, bool reluMask)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var geo = g;
        int hw = g.H * g.W, p = g.OutH * g.OutW;
        bool tiled = IsTiled2x2(g);
        fixed (T* px0 = x, pdy0 = dy, pdx0 = dx)
        {
            nint ax = (nint)px0, ady = (nint)pdy0, adx = (nint)pdx0;
            if (CanMaxPool2x2Avx<T>(g))
            {
                Conv2dKernel.For(g.N * g.C, (long)hw, plane =>
                    MaxBackward2x2Plane(geo, (float*)ax + (long)plane * hw, (float*)ady + (long)plane * p, (float*)adx + (long)plane * hw, reluMask));
                return;
            }
            Conv2dKernel.For(g.N * g.C, (long)p * g.R * g.S, plane =>
            {
                T* xp = (T*)ax + (long)plane * hw;
                T* dyp = (T*)ady + (long)plane * p;
                T* dxp = (T*)adx + (long)plane * hw;
                new Span<T>(dxp, hw).Clear();
                if (tiled)
                {
                    for (int oh = 0; oh < geo.OutH; oh++)
                    {
                        T* r0 = xp + 2 * oh * geo.W, r1 = r0 + geo.W;
                        int rowOffset = (int)(r0 - xp);
                        for (int ow = 0; ow < geo.OutW; ow++)
                        {
                            int idx = rowOffset + Max2x2(r0, r1, 2 * ow);
                            if (!reluMask || xp[idx] > T.Zero) dxp[idx] += dyp[oh * geo.OutW + ow];
                        }
                    }
                    return;
                }
                for (int oh = 0; oh < geo.OutH; oh++)
                    for (int ow = 0; ow < geo.OutW; ow++)
                    {
                        int idx = ArgMax(geo, xp, oh, ow);
                        if (idx >= 0 && (!reluMask || xp[idx] > T.Zero)) dxp[idx] += dyp[oh * geo.OutW + ow];
                    }
            });
        }
    }

    /// <summary>Index within the plane of the first maximum of window (oh, ow), or -1 if it lies wholly in padding.</summary>
    private static int ArgMax<T>(in Conv2dGeometry g, T* xp, int oh, int ow)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h0 = oh * g.StrideH - g.PadTop, w0 = ow * g.StrideW - g.PadLeft;
        Conv2dKernel.ValidRange(h0, g.DilationH, g.R, g.H, out int rlo, out int rhi);
        Conv2dKernel.ValidRange(w0, g.DilationW, g.S, g.W, out int slo, out int shi);
        int best = -1;
        T bv = T.NegativeInfinity;
        for (int r = rlo; r < rhi; r++)
        {
            int rowBase = (h0 + r * g.DilationH) * g.W + w0;
            for (int s = slo; s < shi; s++)
            {
                int idx = rowBase + s * g.DilationW;
                T v = xp[idx];
                if (best < 0 || v > bv || (T.IsNaN(v) && !T.IsNaN(bv)))
                {
                    best = idx;
                    bv = v;
                }
            }
        }
        return best;
    }

    // ------------------------------------------------------------------------------------------------------
    // Average pooling
    // ------------------------------------------------------------------------------------------------------

    /// <summary>
    /// y = mean over each window. With countIncludePad the divisor counts window positions inside the padded
    /// input (padding included, never beyond it), otherwise only positions inside the input (PyTorch
    /// count_include_pad semantics). A window with a zero divisor yields 0. Overwrites y.
    /// </summary>
    public static void AvgForward<T>(in Conv2dGeometry g, bool countIncludePad, ReadOnlySpan<T> x, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var geo = g;
        int hw = g.H * g.W, p = g.OutH * g.OutW;
        fixed (T* px0 = x, py0 = y)
        {
            nint ax = (nint)px0, ay = (nint)py0;
            Conv2dKernel.For(g.N * g.C, (long)p * g.R * g.S, plane =>
            {
                T* xp = (T*)ax + (long)plane * hw;
                T* yp = (T*)ay + (long)plane * p;
                for (int oh = 0; oh < geo.OutH; oh++)
                    for (int ow = 0; ow < geo.OutW; ow++)
                    {
                        AvgWindow(geo, countIncludePad, oh, ow, out int h0, out int w0,
                            out int rlo, out int rhi, out int slo, out int shi, out int divisor);
                        T sum = T.Zero;
                        for (int r = rlo; r < rhi; r++)
                        {
                            int rowBase = (h0 + r * geo.DilationH) * geo.W + w0;
                            for (int s = slo; s < shi; s++)
                                sum += xp[rowBase + s * geo.DilationW];
                        }
                        yp[oh * geo.OutW + ow] = divisor == 0 ? T.Zero : sum / T.CreateTruncating(divisor);
                    }
            });
        }
    }

    /// <summary>dx = gradient of <see cref="AvgForward{T}"/>. Overwrites dx.</summary>
    public static void AvgBackward<T>(in Conv2dGeometry g, bool countIncludePad, ReadOnlySpan<T> dy, Span<T> dx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var geo = g;
        int hw = g.H * g.W, p = g.OutH * g.OutW;
        fixed (T* pdy0 = dy, pdx0 = dx)
        {
            nint ady = (nint)pdy0, adx = (nint)pdx0;
            Conv2dKernel.For(g.N * g.C, (long)p * g.R * g.S, plane =>
            {
                T* dyp = (T*)ady + (long)plane * p;
                T* dxp = (T*)adx + (long)plane * hw;
                new Span<T>(dxp, hw).Clear();
                for (int oh = 0; oh < geo.OutH; oh++)
                    for (int ow = 0; ow < geo.OutW; ow++)
                    {
                        AvgWindow(geo, countIncludePad, oh, ow, out int h0, out int w0,
                            out int rlo, out int rhi, out int slo, out int shi, out int divisor);
                        if (divisor == 0) continue;
                        T gv = dyp[oh * geo.OutW + ow] / T.CreateTruncating(divisor);
                        for (int r = rlo; r < rhi; r++)
                        {
                            int rowBase = (h0 + r * geo.DilationH) * geo.W + w0;
                            for (int s = slo; s < shi; s++)
                                dxp[rowBase + s * geo.DilationW] += gv;
                        }
                    }
            });
        }
    }

    internal static void AvgWindow(in Conv2dGeometry g, bool countIncludePad, int oh, int ow,
        out int h0, out int w0, out int rlo, out int rhi, out int slo, out int shi, out int divisor)
    {
        h0 = oh * g.StrideH - g.PadTop;
        w0 = ow * g.StrideW - g.PadLeft;
        Conv2dKernel.ValidRange(h0, g.DilationH, g.R, g.H, out rlo, out rhi);
        Conv2dKernel.ValidRange(w0, g.DilationW, g.S, g.W, out slo, out shi);
        if (countIncludePad)
        {
            // Positions inside the padded input [-padTop, H + padBottom) × [-padLeft, W + padRight).
            Conv2dKernel.ValidRange(h0 + g.PadTop, g.DilationH, g.R, g.H + g.PadTop + g.PadBottom, out int plo, out int phi);
            Conv2dKernel.ValidRange(w0 + g.PadLeft, g.DilationW, g.S, g.W + g.PadLeft + g.PadRight, out int qlo, out int qhi);
            divisor = (phi - plo) * (qhi - qlo);
        }
        else
        {
            divisor = (rhi - rlo) * (shi - slo);
        }
    }

    // ------------------------------------------------------------------------------------------------------
    // Global average pooling
    // ------------------------------------------------------------------------------------------------------

    /// <summary>y[n, c] = mean of x[n, c, :, :]. y has N·C elements. Overwrites y.</summary>
    public static void GlobalAvgForward<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int hw = g.H * g.W, planes = g.N * g.C;
        T inv = hw == 0 ? T.Zero : T.One / T.CreateTruncating(hw);
        for (int i = 0; i < planes; i++)
            y[i] = hw == 0 ? T.Zero : TensorPrimitives.Sum(x.Slice(i * hw, hw)) * inv;
    }

    /// <summary>dx[n, c, :, :] = dy[n, c] / (H·W). Overwrites dx.</summary>
    public static void GlobalAvgBackward<T>(in Conv2dGeometry g, ReadOnlySpan<T> dy, Span<T> dx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int hw = g.H * g.W, planes = g.N * g.C;
        if (hw == 0) return;
        T inv = T.One / T.CreateTruncating(hw);
        for (int i = 0; i < planes; i++)
            dx.Slice(i * hw, hw).Fill(dy[i] * inv);
    }
}
