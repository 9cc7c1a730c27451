using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Kernels;

/// <summary>
/// Depthwise forward through zero-padded phase planes. Each input plane is copied once into sh·sw "phase" planes,
/// phase (qh, qw) holding padded rows qh, qh+sh, ... and columns qw, qw+sw, ... . In those planes every tap (r, s) of
/// every output pixel (oh, ow) reads element (oh + a_r)·Wq + ow + b_s of one phase, so with the output laid out with
/// the same row stride Wq the whole plane is one flat run y[j] = bias + Σ_t w_t · phase_t[j + off_t]: no edge cases,
/// no per-row set-up, full vectors even on 7×7 planes (a row-by-row kernel fills half a 16-lane vector there) and
/// stride 2 as cheap as stride 1 (one deinterleave of the input instead of a strided gather per tap). The few junk
/// columns per row (ow ≥ OutW) are dropped when the run is copied into y.
/// </summary>
public static unsafe partial class Conv2dKernel
{
    /// <summary>
    /// Widest vectors the depthwise forward may use: 512, 256 or 0 (scalar). Test hook so every fallback is checked
    /// on a machine that has AVX-512.
    /// </summary>
    internal static int DepthwiseVectorBits { get; set; } = 512;

    /// <summary>Extra elements after each phase plane and the flat output: a last partial vector may read or write them.</summary>
    private const int PhaseSlack = 16;

    /// <summary>Depthwise forward; the epilogue (residual, activation) runs on each output plane right after it is computed.</summary>
    private static void DepthwiseForward<T>(in Conv2dGeometry g, ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> bias,
        ReadOnlySpan<T> residual, in ConvEpilogue epilogue, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (g.R * g.S > MaxRowTaps)
        {
            DepthwiseForwardByRows(g, x, w, bias, residual, epilogue, y);
            return;
        }
        var geo = g;
        var ep = epilogue;
        int planes = g.N * g.C;
        // Contiguous runs of planes per job, a few per thread: one scratch buffer per run, no per-plane scheduling.
        int jobs = Math.Min(planes, 4 * Math.Max(1, GemmKernel.MaxThreads));
        bool hasBias = !bias.IsEmpty;
        fixed (T* px0 = x, pw0 = w, pb0 = bias, py0 = y, pr0 = residual)
        {
            nint ax = (nint)px0, aw = (nint)pw0, ab = (nint)pb0, ay = (nint)py0, ar = (nint)pr0;
            For(jobs, (long)g.OutH * g.OutW * g.R * g.S * (g.K / g.C) * planes / jobs, job =>
            {
                int p0 = (int)((long)planes * job / jobs), p1 = (int)((long)planes * (job + 1) / jobs);
                DepthwisePlanes(geo, p0, p1, (T*)ax, (T*)aw, hasBias ? (T*)ab : null, (T*)ar, ep, (T*)ay);
            });
        }
    }

    /// <summary>Input planes p0..p1-1 (image-major): phase planes, then each of their output channels.</summary>
    private static void DepthwisePlanes<T>(in Conv2dGeometry g, int p0, int p1, T* x, T* w, T* bias, T* residual,
        in ConvEpilogue ep, T* y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int sh = g.StrideH, sw = g.StrideW, outH = g.OutH, outW = g.OutW, p = outH * outW;
        int mult = g.K / g.C, rs = g.R * g.S, hw = g.H * g.W;
        int wq = outW + (g.S - 1) * g.DilationW / sw, hq = outH + (g.R - 1) * g.DilationH / sh;
        int phaseLen = hq * wq + PhaseSlack, flat = (outH - 1) * wq + outW;
        int phases = sh * sw;
        bool epilogueWork = residual != null || ep.Activation != ConvActivation.None;

        int* tapPhase = stackalloc int[rs];
        nint* src = stackalloc nint[rs];
        T* wts = stackalloc T[rs];
        T[] scratch = ArrayPool<T>.Shared.Rent(phases * phaseLen + flat + PhaseSlack);
        try
        {
            fixed (T* s0 = scratch)
            {
                T* yflat = s0 + phases * phaseLen;
                for (int t = 0; t < rs; t++)
                {
                    int dr = t / g.S * g.DilationH, ds = t % g.S * g.DilationW;
                    int ph = dr % sh * sw + ds % sw;
                    tapPhase[t] = ph;
                    src[t] = (nint)(s0 + (long)ph * phaseLen + dr / sh * wq + ds / sw);
                }
                // Padding cells are zero for every plane: clear once per job, then each plane writes only its interior.
                new Span<T>(s0, phases * phaseLen).Clear();
                // The epilogue runs over several small output planes at once (they are contiguous in y: input plane
                // i·C + c writes output planes (i·C + c)·mult ..), so 7×7 planes do not pay two calls each.
                long pending = (long)p0 * mult * p, done = pending;
                for (int plane = p0; plane < p1; plane++)
                {
                    int i = plane / g.C, c = plane % g.C;
                    T* xp = x + (long)plane * hw;
                    for (int ph = 0; ph < phases; ph++)
                        if (PhaseUsed(tapPhase, rs, ph)) FillPhase(g, xp, ph / sw, ph % sw, wq, hq, s0 + (long)ph * phaseLen);
                    for (int m = 0; m < mult; m++)
                    {
                        int kk = c * mult + m;
                        for (int t = 0; t < rs; t++) wts[t] = w[(long)kk * rs + t];
                        T b0 = bias == null ? T.Zero : bias[kk];
                        TapRun(yflat, flat, b0, wts, src, rs);
                        T* yp = y + ((long)i * g.K + kk) * p;
                        for (int oh = 0; oh < outH; oh++) CopyShort(yflat + (long)oh * wq, yp + (long)oh * outW, outW);
                        pending += p;
                        // The bias is the accumulators' starting value, as in the unfused op.
                        if (epilogueWork && (pending - done >= EpilogueRun || plane == p1 - 1 && m == mult - 1))
                        {
                            ep.Apply(y + done, (int)(pending - done), false, T.Zero, residual == null ? null : residual + done);
                            done = pending;
                        }
                    }
                }
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(scratch);
        }
    }

    private static bool PhaseUsed(int* tapPhase, int taps, int ph)
    {
        for (int t = 0; t < taps; t++)
            if (tapPhase[t] == ph) return true;
        return false;
    }

    /// <summary>Output elements the epilogue is applied to at once (the planes are still in L1/L2).</summary>
    private const int EpilogueRun = 4096;

    /// <summary>
    /// The interior of phase (qh, qw) of the zero-padded plane: dst[a·Wq + b] = x[a·sh + qh − padTop, b·sw + qw − padLeft]
    /// where that is inside x; the padding cells were cleared before and are left alone.
    /// </summary>
    private static void FillPhase<T>(in Conv2dGeometry g, T* xp, int qh, int qw, int wq, int hq, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int start = qw - g.PadLeft;
        ValidRange(start, g.StrideW, wq, g.W, out int lo, out int hi);
        ValidRange(qh - g.PadTop, g.StrideH, hq, g.H, out int alo, out int ahi);
        if (hi <= lo) return;
        for (int a = alo; a < ahi; a++)
        {
            T* row = xp + (long)(a * g.StrideH + qh - g.PadTop) * g.W;
            T* d = dst + (long)a * wq;
            if (g.StrideW == 1) CopyShort(row + lo + start, d + lo, hi - lo);
            else if (g.StrideW == 2) Deinterleave(row, g.W, start, lo, hi, d);
            else for (int b = lo; b < hi; b++) d[b] = row[b * g.StrideW + start];
        }
    }

    /// <summary>dst[0, n) = src[0, n) for short rows (a call to memmove per 7-element row costs more than the copy).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyShort<T>(T* src, T* dst, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            int v = Vector256<T>.Count;
            for (; j + v <= n; j += v) Vector256.Load(src + j).Store(dst + j);
            // The last, overlapping vector stays inside [0, n) on both sides.
            if (j < n && n >= v) { Vector256.Load(src + n - v).Store(dst + n - v); return; }
        }
        for (; j < n; j++) dst[j] = src[j];
    }

    private static readonly Vector512<int> EvenLanes = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);

    /// <summary>dst[b] = row[2b + start] for b in [lo, hi); reads stay inside row[0, width).</summary>
    private static void Deinterleave<T>(T* row, int width, int start, int lo, int hi, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int b = lo;
        if (typeof(T) == typeof(float))
        {
            float* r = (float*)row, d = (float*)dst;
            if (DepthwiseVectorBits >= 512 && Avx512F.IsSupported)
            {
                // 32 consecutive inputs → their 16 even-offset lanes; the last read element is 2b + start + 31.
                for (; b + 16 <= hi && 2 * b + start + 32 <= width; b += 16)
                {
                    float* s = r + 2 * b + start;
                    Avx512F.Store(d + b, Avx512F.PermuteVar16x32x2(Avx512F.LoadVector512(s), EvenLanes, Avx512F.LoadVector512(s + 16)));
                }
            }
            if (DepthwiseVectorBits >= 256 && Avx2.IsSupported)
            {
                for (; b + 8 <= hi && 2 * b + start + 16 <= width; b += 8)
                {
                    float* s = r + 2 * b + start;
                    // Lanes a0 a2 b0 b2 | a4 a6 b4 b6, then the 64-bit pairs reordered to a0 a2 a4 a6 b0 b2 b4 b6.
                    var even = Avx.Shuffle(Avx.LoadVector256(s), Avx.LoadVector256(s + 8), 0b10_00_10_00);
                    Avx.Store(d + b, Avx2.Permute4x64(even.AsDouble(), 0b11_01_10_00).AsSingle());
                }
            }
        }
        for (; b < hi; b++) dst[b] = row[2 * b + start];
    }

    /// <summary>
    /// dst[j] = init + Σ_t wts[t] · src_t[j] for j in [0, len) (taps added in order, as the row kernel does), rounded up
    /// to whole vectors: dst and every source must have <see cref="PhaseSlack"/> readable elements past len.
    /// </summary>
    private static void TapRun<T>(T* dst, int len, T init, T* wts, nint* src, int taps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (DepthwiseVectorBits >= 512 && Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported) TapRun512(dst, len, init, wts, src, taps);
        else if (DepthwiseVectorBits >= 256 && Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported) TapRun256(dst, len, init, wts, src, taps);
        else
        {
            for (int j = 0; j < len; j++)
            {
                T acc = init;
                for (int t = 0; t < taps; t++) acc += wts[t] * ((T*)src[t])[j];
                dst[j] = acc;
            }
        }
    }

    private static void TapRun512<T>(T* dst, int len, T init, T* wts, nint* src, int taps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector512<T>.Count, j = 0;
        var vinit = Vector512.Create(init);
        // Four vectors per tap: one broadcast and one tap address serve four loads and multiply-adds.
        for (; j + 4 * v <= len; j += 4 * v)
        {
            Vector512<T> a0 = vinit, a1 = vinit, a2 = vinit, a3 = vinit;
            for (int t = 0; t < taps; t++)
            {
                var wv = Vector512.Create(wts[t]);
                T* s = (T*)src[t] + j;
                a0 += wv * Vector512.Load(s);
                a1 += wv * Vector512.Load(s + v);
                a2 += wv * Vector512.Load(s + 2 * v);
                a3 += wv * Vector512.Load(s + 3 * v);
            }
            a0.Store(dst + j); a1.Store(dst + j + v); a2.Store(dst + j + 2 * v); a3.Store(dst + j + 3 * v);
        }
        for (; j < len; j += v)
        {
            var a0 = vinit;
            for (int t = 0; t < taps; t++) a0 += Vector512.Create(wts[t]) * Vector512.Load((T*)src[t] + j);
            a0.Store(dst + j);
        }
    }

    private static void TapRun256<T>(T* dst, int len, T init, T* wts, nint* src, int taps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int v = Vector256<T>.Count, j = 0;
        var vinit = Vector256.Create(init);
        for (; j + 4 * v <= len; j += 4 * v)
        {
            Vector256<T> a0 = vinit, a1 = vinit, a2 = vinit, a3 = vinit;
            for (int t = 0; t < taps; t++)
            {
                var wv = Vector256.Create(wts[t]);
                T* s = (T*)src[t] + j;
                a0 += wv * Vector256.Load(s);
                a1 += wv * Vector256.Load(s + v);
                a2 += wv * Vector256.Load(s + 2 * v);
                a3 += wv * Vector256.Load(s + 3 * v);
            }
            a0.Store(dst + j); a1.Store(dst + j + v); a2.Store(dst + j + 2 * v); a3.Store(dst + j + 3 * v);
        }
        for (; j < len; j += v)
        {
            var a0 = vinit;
            for (int t = 0; t < taps; t++) a0 += Vector256.Create(wts[t]) * Vector256.Load((T*)src[t] + j);
            a0.Store(dst + j);
        }
    }
}
