using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Kernels;

public static unsafe partial class Pool2dKernel
{
    /// <summary>Whether the vectorised 2×2 paths can take a plane: float, AVX2, tiled 2×2 windows, at least 4 per row.</summary>
    private static bool CanMaxPool2x2Avx<T>(in Conv2dGeometry g) =>
        typeof(T) == typeof(float) && Avx2.IsSupported && IsTiled2x2(g) && g.OutW >= 4;

    /// <summary>
    /// Max-pool backward of one plane for 2×2 windows with stride 2 (the CNN case), branch-free: eight input columns
    /// (four windows) per step. Each window's four values a, b (top row) and c, d (bottom row) decide its first
    /// maximum in row-major order as the scalar path does: a wins if a ≥ b, c, d; b if b &gt; a and b ≥ c, d; c if
    /// c &gt; a, b and c ≥ d; d if d &gt; a, b, c. Writes every element of dx (windows do not overlap, so no clear and
    /// no accumulation; the last step of a row may overlap the previous one and rewrites the same values). A step
    /// whose inputs hold a NaN goes through the scalar rule, which lets NaN win. With <paramref name="reluMask"/>
    /// only winners greater than zero receive their gradient (ReLU's backward pass fused in).
    /// </summary>
    private static void MaxBackward2x2Plane(in Conv2dGeometry g, float* xp, float* dyp, float* dxp, bool reluMask)
    {
        int w = g.W, outW = g.OutW, covered = 2 * outW;
        for (int oh = 0; oh < g.OutH; oh++)
        {
            float* r0 = xp + 2 * oh * w, r1 = r0 + w;
            float* d0 = dxp + 2 * oh * w, d1 = d0 + w;
            float* gy = dyp + oh * outW;
            for (int c = 0; ; c += 8)
            {
                if (c > covered - 8) c = covered - 8;
                if (!Block(r0 + c, r1 + c, gy + c / 2, d0 + c, d1 + c, reluMask))
                {
                    for (int j = c / 2; j < c / 2 + 4; j++)
                    {
                        int at = Max2x2(r0, r1, 2 * j);
                        d0[2 * j] = d0[2 * j + 1] = d1[2 * j] = d1[2 * j + 1] = 0;
                        // at counts from r0, and d1 = d0 + w as r1 = r0 + w. NaN > 0 is false: a NaN winner is masked.
                        if (!reluMask || r0[at] > 0) d0[at] = gy[j];
                    }
                }
                if (c == covered - 8) break;
            }
            // An odd width leaves a last column that no window covers.
            for (int c = covered; c < w; c++) d0[c] = d1[c] = 0;
        }
        for (int i = 2 * g.OutH * w; i < g.H * w; i++) dxp[i] = 0;
    }

    /// <summary>
    /// Max-pool forward of one plane for 2×2 windows with stride 2: the vertical maximum of two rows, then the
    /// maximum of neighbouring lanes, four windows per step (the last step of a row may overlap the previous one).
    /// A step whose inputs hold a NaN goes through the scalar rule, which lets NaN win.
    /// </summary>
    private static void MaxForward2x2Plane(in Conv2dGeometry g, float* xp, float* yp)
    {
        int w = g.W, outW = g.OutW, covered = 2 * outW;
        var evenLanes = Vector256.Create(0, 2, 4, 6, 0, 2, 4, 6);
        for (int oh = 0; oh < g.OutH; oh++)
        {
            float* r0 = xp + 2 * oh * w, r1 = r0 + w;
            float* y = yp + oh * outW;
            for (int c = 0; ; c += 8)
            {
                if (c > covered - 8) c = covered - 8;
                var v0 = Avx.LoadVector256(r0 + c);
                var v1 = Avx.LoadVector256(r1 + c);
                if (Avx.MoveMask(Avx.CompareUnordered(v0, v1)) == 0)
                {
                    var m = Avx.Max(v0, v1);
                    m = Avx.Max(m, Avx.Permute(m, 0b10_11_00_01));
                    Sse.Store(y + c / 2, Avx2.PermuteVar8x32(m, evenLanes).GetLower());
                }
                else
                {
                    for (int j = c / 2; j < c / 2 + 4; j++) y[j] = r0[Max2x2(r0, r1, 2 * j)];
                }
                if (c == covered - 8) break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Block(float* r0, float* r1, float* gy, float* d0, float* d1, bool reluMask)
    {
        var v0 = Avx.LoadVector256(r0);
        var v1 = Avx.LoadVector256(r1);
        if (Avx.MoveMask(Avx.CompareUnordered(v0, v1)) != 0) return false;
        // Swap neighbours: lane 2i holds the window's right value, lane 2i+1 its left one.
        var s0 = Avx.Permute(v0, 0b10_11_00_01);
        var s1 = Avx.Permute(v1, 0b10_11_00_01);
        // Within a row the left value wins ties (≥ in even lanes), the right one must be strictly greater (odd lanes).
        var pair0 = Avx.Blend(Avx.CompareGreaterThan(v0, s0), Avx.CompareGreaterThanOrEqual(v0, s0), 0b0101_0101);
        var pair1 = Avx.Blend(Avx.CompareGreaterThan(v1, s1), Avx.CompareGreaterThanOrEqual(v1, s1), 0b0101_0101);
        // Across rows the top row wins ties against the bottom row's maximum; the bottom row must beat the top's.
        var win0 = Avx.And(pair0, Avx.CompareGreaterThanOrEqual(v0, Avx.Max(v1, s1)));
        var win1 = Avx.And(pair1, Avx.CompareGreaterThan(v1, Avx.Max(v0, s0)));
        if (reluMask)
        {
            win0 = Avx.And(win0, Avx.CompareGreaterThan(v0, Vector256<float>.Zero));
            win1 = Avx.And(win1, Avx.CompareGreaterThan(v1, Vector256<float>.Zero));
        }
        var g4 = Sse.LoadVector128(gy);
        var g8 = Vector256.Create(Sse.UnpackLow(g4, g4), Sse.UnpackHigh(g4, g4));
        Avx.Store(d0, Avx.And(win0, g8));
        Avx.Store(d1, Avx.And(win1, g8));
        return true;
    }
}
