using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Kernels;

public static unsafe partial class NchwcConv
{
    /// <summary>
    /// Whether tiles run on 256-bit registers (AVX2 + FMA without AVX-512): the same blocked layout and packed
    /// weights, one filter block (16 channels = two ymm) × up to 6 pixels per tile (12 accumulators of the 16 ymm).
    /// Settable so tests can run this path on an AVX-512 machine; TESSERA_NCHWC_AVX2=1 in the environment forces it
    /// for benchmarks.
    /// </summary>
    internal static bool UseAvx2Tiles { get; set; } = Avx2.IsSupported && Fma.IsSupported
        && (!Vector512.IsHardwareAccelerated || Environment.GetEnvironmentVariable("TESSERA_NCHWC_AVX2") == "1");

    /// <summary>A tile of F filter blocks on AVX2: F one-block tiles, each reading its block's weights at a stride of F blocks.</summary>
    private static void RunTile256(int f, int t, in TileArgs a)
    {
        var one = a;
        one.WStep = f * Block;
        for (int fb = 0; fb < f; fb++)
        {
            one.W = a.W + fb * Block;
            one.Y = a.Y + fb * a.YBlockStep;
            one.Bias = a.Bias == null ? null : a.Bias + fb * Block;
            one.Residual = a.Residual == null ? null : a.Residual + fb * a.YBlockStep;
            switch (t)
            {
                case 6: Tile256<Count6>(one); break;
                case 5: Tile256<Count5>(one); break;
                case 4: Tile256<Count4>(one); break;
                case 3: Tile256<Count3>(one); break;
                case 2: Tile256<Count2>(one); break;
                default: Tile256<Count1>(one); break;
            }
        }
    }

    /// <summary>One filter block (two ymm halves) × T pixels; weights for channel c at W + c·WStep.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile256<TT>(in TileArgs a) where TT : struct, IConstCount
    {
        int T = TT.Value;
        Vector256<float> l0, h0, l1, h1, l2, h2, l3, h3, l4, h4, l5, h5;
        l0 = h0 = l1 = h1 = l2 = h2 = l3 = h3 = l4 = h4 = l5 = h5 = default;
        long yp = a.YPixelStep;
        if (!a.First)
        {
            float* y = a.Y;
            l0 = Vector256.Load(y); h0 = Vector256.Load(y + 8);
            if (T > 1) { l1 = Vector256.Load(y + yp); h1 = Vector256.Load(y + yp + 8); }
            if (T > 2) { l2 = Vector256.Load(y + 2 * yp); h2 = Vector256.Load(y + 2 * yp + 8); }
            if (T > 3) { l3 = Vector256.Load(y + 3 * yp); h3 = Vector256.Load(y + 3 * yp + 8); }
            if (T > 4) { l4 = Vector256.Load(y + 4 * yp); h4 = Vector256.Load(y + 4 * yp + 8); }
            if (T > 5) { l5 = Vector256.Load(y + 5 * yp); h5 = Vector256.Load(y + 5 * yp + 8); }
        }
        long px = a.PixelStep, cs = a.ChannelStep, ws = a.WStep;
        int inBlock = a.InBlock;
        for (int b = 0; b < a.Blocks; b++)
        {
            float* xb = a.X + b * a.BlockStep;
            float* wb = a.W + b * a.WBlockStep;
            for (int r = 0; r < a.Rows; r++)
            {
                float* xr = xb + r * a.RowStep;
                float* wr = wb + r * a.WRowStep;
                for (int s = 0; s < a.Cols; s++)
                {
                    float* x = xr + s * a.ColStep;
                    float* w = wr + s * a.WColStep;
                    for (int c = 0; c < inBlock; c++, x += cs, w += ws)
                    {
                        var wl = Vector256.Load(w);
                        var wh = Vector256.Load(w + 8);
                        var v = Vector256.Create(x[0]);
                        l0 = Fma.MultiplyAdd(wl, v, l0); h0 = Fma.MultiplyAdd(wh, v, h0);
                        if (T > 1) { v = Vector256.Create(x[px]); l1 = Fma.MultiplyAdd(wl, v, l1); h1 = Fma.MultiplyAdd(wh, v, h1); }
                        if (T > 2) { v = Vector256.Create(x[2 * px]); l2 = Fma.MultiplyAdd(wl, v, l2); h2 = Fma.MultiplyAdd(wh, v, h2); }
                        if (T > 3) { v = Vector256.Create(x[3 * px]); l3 = Fma.MultiplyAdd(wl, v, l3); h3 = Fma.MultiplyAdd(wh, v, h3); }
                        if (T > 4) { v = Vector256.Create(x[4 * px]); l4 = Fma.MultiplyAdd(wl, v, l4); h4 = Fma.MultiplyAdd(wh, v, h4); }
                        if (T > 5) { v = Vector256.Create(x[5 * px]); l5 = Fma.MultiplyAdd(wl, v, l5); h5 = Fma.MultiplyAdd(wh, v, h5); }
                    }
                }
            }
        }
        Store256(a, 0, l0, h0);
        if (T > 1) Store256(a, 1, l1, h1);
        if (T > 2) Store256(a, 2, l2, h2);
        if (T > 3) Store256(a, 3, l3, h3);
        if (T > 4) Store256(a, 4, l4, h4);
        if (T > 5) Store256(a, 5, l5, h5);
    }

    /// <summary>Pixel t's two halves to the output, through the epilogue on the last pass (same order as <see cref="Finish"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(in TileArgs a, int t, Vector256<float> lo, Vector256<float> hi)
    {
        float* y = a.Y + t * a.YPixelStep;
        if (a.Last)
        {
            if (a.Bias != null) { lo += Vector256.Load(a.Bias); hi += Vector256.Load(a.Bias + 8); }
            if (a.Residual != null)
            {
                float* r = a.Residual + t * a.YPixelStep;
                lo += Vector256.Load(r);
                hi += Vector256.Load(r + 8);
            }
            if (a.Activation == 1)
            {
                lo = Vector256.Max(lo, Vector256<float>.Zero);
                hi = Vector256.Max(hi, Vector256<float>.Zero);
            }
            else if (a.Activation == 2)
            {
                var min = Vector256.Create(a.ClipMin);
                var max = Vector256.Create(a.ClipMax);
                lo = Vector256.Min(Vector256.Max(lo, min), max);
                hi = Vector256.Min(Vector256.Max(hi, min), max);
            }
        }
        lo.Store(y);
        hi.Store(y + 8);
    }
}
