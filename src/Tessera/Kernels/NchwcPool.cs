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
