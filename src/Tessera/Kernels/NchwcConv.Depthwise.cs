using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Tessera.Kernels;

public static unsafe partial class NchwcConv
{
    /// <summary>
    /// Depthwise convolution (groups = C = K, one R×S filter per channel) on blocked tensors: y = act(conv(x, w) +
    /// bias + residual), x, residual and y [N, ⌈C/16⌉, H, W, 16]. Each 16-channel block is one vector, so a tap is
    /// one fused multiply-add; four output pixels are computed side by side to hide the multiply-add latency.
    /// </summary>
    public static void DepthwiseForward(in Conv2dGeometry g, NchwcDepthwiseWeights w, float* x, float* residual, in ConvEpilogue ep, float* y)
    {
        if (g.Groups != g.C || g.K != g.C) throw new ArgumentException($"Depthwise convolution needs groups = C = K, got groups {g.Groups}, C {g.C}, K {g.K}.");
        if (g.C != w.C || g.R != w.R || g.S != w.S)
            throw new ArgumentException($"Packed depthwise weights are [{w.C}, 1, {w.R}, {w.S}], the convolution needs [{g.C}, 1, {g.R}, {g.S}].");
        var geo = g;
        var weights = w;
        var epilogue = ep;
        int planes = g.N * Blocks(g.C);
        nint ax = (nint)x, ar = (nint)residual, ay = (nint)y;
        Conv2dKernel.For(planes * g.OutH, (long)g.OutW * g.R * g.S * Block, job =>
        {
            int plane = job / geo.OutH, oh = job % geo.OutH;
            DepthwiseRow(geo, weights, (float*)ax, (float*)ar, epilogue, (float*)ay, plane, oh);
        });
    }

    private static void DepthwiseRow(in Conv2dGeometry g, NchwcDepthwiseWeights w, float* x, float* residual, in ConvEpilogue ep, float* y,
        int plane, int oh)
    {
        int cb = plane % Blocks(g.C);
        float* xp = x + (long)plane * g.H * g.W * Block;
        long at = ((long)plane * g.OutH + oh) * g.OutW * Block;
        float* yr = y + at;
        float* rr = residual == null ? null : residual + at;
        int ih0 = oh * g.StrideH - g.PadTop;
        ClipWindow(ih0, g.DilationH, g.R, g.H, out int rLo, out int rHi);
        int owLo = Math.Min(g.OutW, (g.PadLeft + g.StrideW - 1) / g.StrideW);
        int lastStart = g.W - 1 - (g.S - 1) * g.DilationW + g.PadLeft;
        int owHi = lastStart < 0 ? owLo : Math.Clamp(lastStart / g.StrideW + 1, owLo, g.OutW);
        fixed (float* wd = w.Data, bd = w.Bias)
        {
            float* wb = wd + (long)cb * g.R * g.S * Block;
            var bias = bd == null ? Vector512<float>.Zero : Vector512.Load(bd + cb * Block);
            long step = (long)g.StrideW * Block, colStep = (long)g.DilationW * Block;
            int ow = 0;
            for (; ow < owLo; ow++) DepthwisePixel(g, wb, xp, ih0, rLo, rHi, ow, bias, rr, ep, yr);
            // Interior: the whole window row is inside the input; four pixels at a time.
            for (; ow + 4 <= owHi; ow += 4)
            {
                Vector512<float> a0 = bias, a1 = bias, a2 = bias, a3 = bias;
                for (int r = rLo; r < rHi; r++)
                {
                    float* xr = xp + ((long)(ih0 + r * g.DilationH) * g.W + ow * g.StrideW - g.PadLeft) * Block;
                    float* wr = wb + (long)r * g.S * Block;
                    for (int s = 0; s < g.S; s++, xr += colStep)
                    {
                        var wv = Vector512.Load(wr + s * Block);
                        a0 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(xr), a0);
                        a1 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(xr + step), a1);
                        a2 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(xr + 2 * step), a2);
                        a3 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(xr + 3 * step), a3);
                    }
                }
                FinishStore(a0, rr, ow, ep, yr);
                FinishStore(a1, rr, ow + 1, ep, yr);
                FinishStore(a2, rr, ow + 2, ep, yr);
                FinishStore(a3, rr, ow + 3, ep, yr);
            }
            for (; ow < g.OutW; ow++) DepthwisePixel(g, wb, xp, ih0, rLo, rHi, ow, bias, rr, ep, yr);
        }
    }

    /// <summary>One output pixel with its kernel columns clipped to the input.</summary>
    private static void DepthwisePixel(in Conv2dGeometry g, float* wb, float* xp, int ih0, int rLo, int rHi, int ow,
        Vector512<float> acc, float* residualRow, in ConvEpilogue ep, float* yRow)
    {
        int iw0 = ow * g.StrideW - g.PadLeft;
        ClipWindow(iw0, g.DilationW, g.S, g.W, out int sLo, out int sHi);
        for (int r = rLo; r < rHi; r++)
        {
            float* xr = xp + ((long)(ih0 + r * g.DilationH) * g.W + iw0) * Block;
            float* wr = wb + (long)r * g.S * Block;
            for (int s = sLo; s < sHi; s++)
                acc = Vector512.FusedMultiplyAdd(Vector512.Load(wr + s * Block), Vector512.Load(xr + (long)s * g.DilationW * Block), acc);
        }
        FinishStore(acc, residualRow, ow, ep, yRow);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FinishStore(Vector512<float> v, float* residualRow, int ow, in ConvEpilogue ep, float* yRow)
    {
        if (residualRow != null) v += Vector512.Load(residualRow + ow * Block);
        if (ep.Activation == ConvActivation.Relu) v = Vector512.Max(v, Vector512<float>.Zero);
        else if (ep.Activation == ConvActivation.Clip)
            v = Vector512.Min(Vector512.Max(v, Vector512.Create((float)ep.ClipMin)), Vector512.Create((float)ep.ClipMax));
        v.Store(yRow + ow * Block);
    }
}

/// <summary>Depthwise weights [C, 1, R, S] (and bias) packed per 16-channel block: [⌈C/16⌉][r][s][16], padding channels zero.</summary>
public sealed class NchwcDepthwiseWeights
{
    public int C { get; }
    public int R { get; }
    public int S { get; }
    internal float[] Data { get; }
    internal float[]? Bias { get; }

    public NchwcDepthwiseWeights(int c, int r, int s, ReadOnlySpan<float> w, ReadOnlySpan<float> bias)
    {
        if (w.Length != (long)c * r * s) throw new ArgumentException($"Depthwise weights hold {w.Length} values, [{c}, 1, {r}, {s}] needs {(long)c * r * s}.");
        if (!bias.IsEmpty && bias.Length != c) throw new ArgumentException($"Bias holds {bias.Length} values, expected {c}.");
        (C, R, S) = (c, r, s);
        const int B = NchwcConv.Block;
        Data = new float[(long)NchwcConv.Blocks(c) * r * s * B];
        for (int ch = 0; ch < c; ch++)
            for (int t = 0; t < r * s; t++)
                Data[((long)(ch / B) * r * s + t) * B + ch % B] = w[ch * r * s + t];
        if (!bias.IsEmpty)
        {
            Bias = new float[NchwcConv.Blocks(c) * B];
            bias.CopyTo(Bias);
        }
    }
}
