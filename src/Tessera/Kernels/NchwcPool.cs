using System.Runtime.Intrinsics;

namespace Tessera.Kernels;

/// <summary>
/// Pooling on channel-blocked activations (NCHWc, see <see cref="NchwcConv"/>): every output pixel's 16 channels
/// are one vector, so a max pool is R·S vector maxima per pixel and a global average one vector sum per pixel.
/// </summary>
public static unsafe class NchwcPool
{
    private const int B = NchwcConv.Block;

    /// <summary>
    /// Max pooling of x [N, ⌈C/16⌉, H, W, 16] into y [N, ⌈C/16⌉, OutH, OutW, 16] (g.K is ignored); padding
    /// never wins (positions outside the input are skipped, as ONNX MaxPool does).
    /// </summary>
    public static void MaxForward(in Conv2dGeometry g, float* x, float* y)
    {
        var geo = g;
        int planes = g.N * NchwcConv.Blocks(g.C);
        nint ax = (nint)x, ay = (nint)y;
        Conv2dKernel.For(planes * g.OutH, (long)g.OutW * g.R * g.S * B, job =>
        {
            int plane = job / geo.OutH, oh = job % geo.OutH;
            float* xp = (float*)ax + (long)plane * geo.H * geo.W * B;
            float* yr = (float*)ay + ((long)plane * geo.OutH + oh) * geo.OutW * B;
            int ih0 = oh * geo.StrideH - geo.PadTop;
            int rLo = Math.Max(0, -ih0), rHi = Math.Min(geo.R, geo.H - ih0);
            for (int ow = 0; ow < geo.OutW; ow++)
            {
                int iw0 = ow * geo.StrideW - geo.PadLeft;
                int sLo = Math.Max(0, -iw0), sHi = Math.Min(geo.S, geo.W - iw0);
                var m = Vector512.Create(float.NegativeInfinity);
                for (int r = rLo; r < rHi; r++)
                {
                    float* row = xp + ((long)(ih0 + r) * geo.W + iw0) * B;
                    for (int s = sLo; s < sHi; s++) m = Vector512.MaxNative(Vector512.Load(row + s * B), m);   // one vmaxps (Max adds NaN fix-ups)
                }
                m.Store(yr + ow * B);
            }
        });
    }

    /// <summary>
    /// Average pooling of x [N, ⌈C/16⌉, H, W, 16] into y (g.K is ignored), with the same windows and divisors as
    /// <see cref="Pool2dKernel.AvgForward{T}"/> (its AvgWindow), summing in the same order, so results are equal.
    /// </summary>
    public static void AverageForward(in Conv2dGeometry g, bool countIncludePad, float* x, float* y)
    {
        var geo = g;
        int planes = g.N * NchwcConv.Blocks(g.C);
        nint ax = (nint)x, ay = (nint)y;
        Conv2dKernel.For(planes * g.OutH, (long)g.OutW * g.R * g.S * B, job =>
        {
            int plane = job / geo.OutH, oh = job % geo.OutH;
            float* xp = (float*)ax + (long)plane * geo.H * geo.W * B;
            float* yr = (float*)ay + ((long)plane * geo.OutH + oh) * geo.OutW * B;
            for (int ow = 0; ow < geo.OutW; ow++)
            {
                Pool2dKernel.AvgWindow(geo, countIncludePad, oh, ow, out int h0, out int w0,
                    out int rlo, out int rhi, out int slo, out int shi, out int divisor);
                var sum = Vector512<float>.Zero;
                for (int r = rlo; r < rhi; r++)
                {
                    float* row = xp + ((long)(h0 + r * geo.DilationH) * geo.W + w0) * B;
                    for (int s = slo; s < shi; s++) sum += Vector512.Load(row + (long)s * geo.DilationW * B);
                }
                (divisor == 0 ? Vector512<float>.Zero : sum / Vector512.Create((float)divisor)).Store(yr + ow * B);
            }
        });
    }

    /// <summary>
    /// y = x·scale (+ shift) per channel on x [N, ⌈C/16⌉, HW, 16]; scale [N or 1, ⌈C/16⌉, 16] (a squeeze-and-excitation
    /// gate is per image: <paramref name="scalePerImage"/>), shift null or [⌈C/16⌉, 16]. Padding channels of scale and
    /// shift are zero, so they stay zero. With a shift one fused multiply-add per 16 channels of a pixel (an
    /// inference batch norm no convolution absorbed), without one a plain multiply (the Mul op's product).
    /// </summary>
    public static void ChannelAffine(float* x, float* scale, bool scalePerImage, float* shift, float* y, int n, int blocks, int hw)
    {
        nint ax = (nint)x, ay = (nint)y, ascale = (nint)scale, ashift = (nint)shift;
        Conv2dKernel.For(n * blocks, (long)hw * B, plane =>
        {
            int b = plane % blocks;
            var s = Vector512.Load((float*)ascale + (long)(scalePerImage ? plane : b) * B);
            float* xp = (float*)ax + (long)plane * hw * B, yp = (float*)ay + (long)plane * hw * B;
            if (ashift == 0)
            {
                for (int q = 0; q < hw; q++) (Vector512.Load(xp + (long)q * B) * s).Store(yp + (long)q * B);
                return;
            }
            var t = Vector512.Load((float*)ashift + b * B);
            for (int q = 0; q < hw; q++) Vector512.FusedMultiplyAdd(Vector512.Load(xp + (long)q * B), s, t).Store(yp + (long)q * B);
        });
    }

    /// <summary>Mean over H·W of x [N, ⌈C/16⌉, H, W, 16] into y [N, C] (padding channels dropped).</summary>
    public static void GlobalAverage(float* x, int n, int c, int hw, float* y)
    {
        int cb = NchwcConv.Blocks(c);
        float scale = 1f / hw;
        for (int i = 0; i < n; i++)
            for (int b = 0; b < cb; b++)
            {
                float* p = x + ((long)i * cb + b) * hw * B;
                var sum = Vector512<float>.Zero;
                for (int q = 0; q < hw; q++) sum += Vector512.Load(p + (long)q * B);
                sum *= scale;
                int valid = Math.Min(B, c - b * B);
                for (int j = 0; j < valid; j++) y[(long)i * c + b * B + j] = sum[j];
            }
    }
}
