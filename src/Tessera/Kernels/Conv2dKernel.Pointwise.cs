using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Kernels;

/// <summary>
/// Register-blocked 1×1 convolution (stride 1, no padding) for float on AVX-512, with the epilogue applied in
/// registers. A 1×1 convolution is the product W (K×C) · X (C×P); when C is small (mobilenet's expansion layers:
/// 16–192 input channels over 112² ... 28² planes) the packed GEMM spends more on packing X and on its K-loop
/// set-up than on arithmetic, and its epilogue is a second sweep over the output. Here an 8-channel × 48-pixel tile
/// of y lives in 24 registers while c runs over the input channels, reading X rows in place (each X row is
/// contiguous in pixels) and broadcasting weights; bias, residual and Relu/Clip are applied before the one store.
/// Machines without AVX-512, double, and deep layers keep the GEMM path.
/// </summary>
public static unsafe partial class Conv2dKernel
{
    /// <summary>Test hook: false sends every pointwise convolution to the GEMM path.</summary>
    internal static bool PointwiseKernelEnabled { get; set; } = true;

    /// <summary>Pixels per tile (three 16-float vectors).</summary>
    private const int PwTile = 48;

    /// <summary>Output channels per tile.</summary>
    private const int PwRows = 8;

    /// <summary>
    /// Deepest layer (input channels per group) the kernel takes: beyond it X's tile (C × 48 floats) leaves L1 and
    /// the packed GEMM, which blocks over C, is as fast or faster.
    /// </summary>
    internal static int PointwiseMaxDepth { get; set; } = 160;

    /// <summary>True when the register-blocked kernel runs this convolution (see the class remarks).</summary>
    private static bool UsePointwiseKernel<T>(in Conv2dGeometry g)
        where T : unmanaged, IFloatingPointIeee754<T> => typeof(T) == typeof(float) && PointwiseKernelTakes(g);

    /// <summary>The shape and machine conditions of <see cref="UsePointwiseKernel{T}"/> (float is the caller's to check).</summary>
    private static bool PointwiseKernelTakes(in Conv2dGeometry g) =>
        PointwiseKernelEnabled && Avx512F.IsSupported && Vector512.IsHardwareAccelerated && IsPointwise(g)
        && g.OutH * g.OutW >= PwTile && g.C / g.Groups <= PointwiseMaxDepth;

    /// <summary>
    /// y[kk, j] = act(Σ_c w[kk, c] · x[c, j] + bias[kk] + residual[kk, j]) for one image and group: kg × cg weights,
    /// cg input rows and kg output rows of p pixels (row stride p).
    /// </summary>
    private static void PointwiseForward(float* x, float* w, float* bias, float* residual, in ConvEpilogue ep, float* y,
        int cg, int kg, int p)
    {
        int tiles = (p + PwTile - 1) / PwTile;
        // The last tile is shifted back to end at p and overlaps the one before; both stay in one job so no element
        // is written by two threads (the overlap recomputes identical values).
        int units = Math.Max(1, tiles - 1);
        int jobs = (int)Math.Clamp((long)kg * cg * p / (1 << 18), 1, Math.Min(units, 4 * Math.Max(1, GemmKernel.MaxThreads)));
        nint ax = (nint)x, aw = (nint)w, ab = (nint)bias, ar = (nint)residual, ay = (nint)y;
        var e = ep;
        if (jobs == 1)
        {
            PointwiseTiles(x, w, bias, residual, e, y, cg, kg, p, 0, tiles);
            return;
        }
        For(jobs, 1L << 20, job =>
        {
            int u0 = units * job / jobs, u1 = units * (job + 1) / jobs;
            int t1 = u1 == units ? tiles : u1;
            PointwiseTiles((float*)ax, (float*)aw, (float*)ab, (float*)ar, e, (float*)ay, cg, kg, p, u0, t1);
        });
    }

    private static void PointwiseTiles(float* x, float* w, float* bias, float* residual, in ConvEpilogue ep, float* y,
        int cg, int kg, int p, int t0, int t1)
    {
        bool relu = ep.Activation == ConvActivation.Relu, clip = ep.Activation == ConvActivation.Clip;
        var lo = Vector512.Create(clip ? (float)ep.ClipMin : 0f);
        var hi = Vector512.Create(clip ? (float)ep.ClipMax : 0f);
        var act = new PwActivation(relu, clip, lo, hi);
        for (int t = t0; t < t1; t++)
        {
            int j = Math.Min(t * PwTile, p - PwTile);
            int k0 = 0;
            for (; k0 + PwRows <= kg; k0 += PwRows)
                Tile8x48(x + j, w + (long)k0 * cg, bias == null ? null : bias + k0, residual == null ? null : residual + (long)k0 * p + j,
                    act, y + (long)k0 * p + j, cg, p);
            for (; k0 < kg; k0++)
                Tile1x48(x + j, w + (long)k0 * cg, bias == null ? null : bias + k0, residual == null ? null : residual + (long)k0 * p + j,
                    act, y + (long)k0 * p + j, cg, p);
        }
    }

    /// <summary>The activation as vector operations (Max then Min, the order of the separate Relu/Clip ops).</summary>
    private readonly struct PwActivation(bool relu, bool clip, Vector512<float> lo, Vector512<float> hi)
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Apply(Vector512<float> v) =>
            relu ? Vector512.Max(v, Vector512<float>.Zero) : clip ? Vector512.Min(Vector512.Max(v, lo), hi) : v;
    }

    /// <summary>Finishes one output row segment (bias, residual, activation, as the epilogue orders them) and stores it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, float* bias, int kk, float* residual, long rOff,
        in PwActivation act, float* dst)
    {
        if (bias != null)
        {
            var b = Vector512.Create(bias[kk]);
            a0 += b; a1 += b; a2 += b;
        }
        if (residual != null)
        {
            float* r = residual + rOff;
            a0 += Vector512.Load(r); a1 += Vector512.Load(r + 16); a2 += Vector512.Load(r + 32);
        }
        act.Apply(a0).Store(dst);
        act.Apply(a1).Store(dst + 16);
        act.Apply(a2).Store(dst + 32);
    }

    /// <summary>8 output channels × 48 pixels: 24 accumulators, c ascending (one fused multiply-add per term).</summary>
    private static void Tile8x48(float* x, float* w, float* bias, float* residual, in PwActivation act, float* y, int cg, int p)
    {
        Vector512<float> c00 = default, c01 = default, c02 = default, c10 = default, c11 = default, c12 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c30 = default, c31 = default, c32 = default;
        Vector512<float> c40 = default, c41 = default, c42 = default, c50 = default, c51 = default, c52 = default;
        Vector512<float> c60 = default, c61 = default, c62 = default, c70 = default, c71 = default, c72 = default;
        float* xr = x;
        for (int c = 0; c < cg; c++, xr += p)
        {
            var x0 = Avx512F.LoadVector512(xr);
            var x1 = Avx512F.LoadVector512(xr + 16);
            var x2 = Avx512F.LoadVector512(xr + 32);
            var wv = Vector512.Create(w[c]);
            c00 = Avx512F.FusedMultiplyAdd(x0, wv, c00); c01 = Avx512F.FusedMultiplyAdd(x1, wv, c01); c02 = Avx512F.FusedMultiplyAdd(x2, wv, c02);
            wv = Vector512.Create(w[cg + c]);
            c10 = Avx512F.FusedMultiplyAdd(x0, wv, c10); c11 = Avx512F.FusedMultiplyAdd(x1, wv, c11); c12 = Avx512F.FusedMultiplyAdd(x2, wv, c12);
            wv = Vector512.Create(w[2 * cg + c]);
            c20 = Avx512F.FusedMultiplyAdd(x0, wv, c20); c21 = Avx512F.FusedMultiplyAdd(x1, wv, c21); c22 = Avx512F.FusedMultiplyAdd(x2, wv, c22);
            wv = Vector512.Create(w[3 * cg + c]);
            c30 = Avx512F.FusedMultiplyAdd(x0, wv, c30); c31 = Avx512F.FusedMultiplyAdd(x1, wv, c31); c32 = Avx512F.FusedMultiplyAdd(x2, wv, c32);
            wv = Vector512.Create(w[4 * cg + c]);
            c40 = Avx512F.FusedMultiplyAdd(x0, wv, c40); c41 = Avx512F.FusedMultiplyAdd(x1, wv, c41); c42 = Avx512F.FusedMultiplyAdd(x2, wv, c42);
            wv = Vector512.Create(w[5 * cg + c]);
            c50 = Avx512F.FusedMultiplyAdd(x0, wv, c50); c51 = Avx512F.FusedMultiplyAdd(x1, wv, c51); c52 = Avx512F.FusedMultiplyAdd(x2, wv, c52);
            wv = Vector512.Create(w[6 * cg + c]);
            c60 = Avx512F.FusedMultiplyAdd(x0, wv, c60); c61 = Avx512F.FusedMultiplyAdd(x1, wv, c61); c62 = Avx512F.FusedMultiplyAdd(x2, wv, c62);
            wv = Vector512.Create(w[7 * cg + c]);
            c70 = Avx512F.FusedMultiplyAdd(x0, wv, c70); c71 = Avx512F.FusedMultiplyAdd(x1, wv, c71); c72 = Avx512F.FusedMultiplyAdd(x2, wv, c72);
        }
        Finish(c00, c01, c02, bias, 0, residual, 0, act, y);
        Finish(c10, c11, c12, bias, 1, residual, p, act, y + p);
        Finish(c20, c21, c22, bias, 2, residual, 2L * p, act, y + 2L * p);
        Finish(c30, c31, c32, bias, 3, residual, 3L * p, act, y + 3L * p);
        Finish(c40, c41, c42, bias, 4, residual, 4L * p, act, y + 4L * p);
        Finish(c50, c51, c52, bias, 5, residual, 5L * p, act, y + 5L * p);
        Finish(c60, c61, c62, bias, 6, residual, 6L * p, act, y + 6L * p);
        Finish(c70, c71, c72, bias, 7, residual, 7L * p, act, y + 7L * p);
    }

    /// <summary>One output channel × 48 pixels (the channels left over after the 8-channel tiles).</summary>
    private static void Tile1x48(float* x, float* w, float* bias, float* residual, in PwActivation act, float* y, int cg, int p)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default;
        float* xr = x;
        for (int c = 0; c < cg; c++, xr += p)
        {
            var wv = Vector512.Create(w[c]);
            c0 = Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(xr), wv, c0);
            c1 = Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(xr + 16), wv, c1);
            c2 = Avx512F.FusedMultiplyAdd(Avx512F.LoadVector512(xr + 32), wv, c2);
        }
        Finish(c0, c1, c2, bias, 0, residual, 0, act, y);
    }
}
