using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Kernels;

public static partial class GemmKernel
{
    // Register tile (MR×NR) and cache blocks (MC×KC block of A in L2, KC×NR micro-panel of B in L1,
    // KC×NC block of B in L3) per element type. Internal and mutable only so tests/tuning can vary them.
    internal static int MCf = 144, KCf = 256, NCf = 2048;
    internal static int MCd = 72, KCd = 256, NCd = 1024;
    private const int MRf = 6, NRf = 16, MRd = 6, NRd = 8;

    private static bool UseAvx2 => !ForcePortable && Fma.IsSupported && Avx2.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GetTile<T>(out int mr, out int nr)
    {
        if (typeof(T) == typeof(float)) { mr = MRf; nr = NRf; }
        else { mr = MRd; nr = NRd; }
    }

    /// <summary>Per-thread, reused, pinned packing buffers (64-byte aligned views).</summary>
    private static unsafe class PackBuffers<T> where T : unmanaged
    {
        [ThreadStatic] private static T[]? s_a;
        [ThreadStatic] private static T[]? s_b;

        public static T* A(int length) => Aligned(ref s_a, length);
        public static T* B(int length) => Aligned(ref s_b, length);

        private static T* Aligned(ref T[]? buffer, int length)
        {
            int pad = 64 / sizeof(T);
            if (buffer is null || buffer.Length < length + pad)
                buffer = GC.AllocateUninitializedArray<T>(length + pad, pinned: true);
            nint p = (nint)Unsafe.AsPointer(ref buffer[0]);
            return (T*)((p + 63) & ~(nint)63);
        }
    }

    /// <summary>Single-threaded packed, cache-blocked GEMM on (sub-)matrices.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Blocked<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        T* a, int lda, T* b, int ldb, T beta, T* c, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int MR, NR, MC, KC, NC;
        if (typeof(T) == typeof(float)) { MR = MRf; NR = NRf; MC = MCf; KC = KCf; NC = NCf; }
        else { MR = MRd; NR = NRd; MC = MCd; KC = KCd; NC = NCd; }

        int kcMax = Math.Min(KC, k);
        // Packed blocks are padded to whole micro-panels (also when MC/NC are not multiples of MR/NR).
        int mcMax = RoundUp(Math.Min(MC, m), MR);
        int ncMax = RoundUp(Math.Min(NC, n), NR);
        T* ap = PackBuffers<T>.A(mcMax * kcMax);
        T* bp = PackBuffers<T>.B(ncMax * kcMax);
        T* tile = stackalloc T[MR * NR];
        bool avx2 = UseAvx2;

        // One row block (m <= MC): pack A once per k-block, then pack each B micro-panel right before
        // it is used, so the packed panel is still in L1 for the whole sweep over A (skinny problems).
        bool fused = m <= MC;
        for (int jc = 0; jc < n; jc += NC)
        {
            int nc = Math.Min(NC, n - jc);
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                T betaEff = pc == 0 ? beta : T.One;
                T* bsrc = transB ? b + (long)jc * ldb + pc : b + (long)pc * ldb + jc;
                if (fused)
                {
                    T* asrc = transA ? a + (long)pc * lda : a + pc;
                    PackA(transA, asrc, lda, m, kc, ap, MR);
                    for (int jr = 0; jr < nc; jr += NR)
                    {
                        int nr = Math.Min(NR, nc - jr);
                        PackB(transB, bsrc + (transB ? (long)jr * ldb : jr), ldb, kc, nr, bp, NR);
                        SweepA(avx2, m, nr, kc, ap, bp, c + jc + jr, ldc, alpha, betaEff, tile, MR, NR);
                    }
                    continue;
                }

                PackB(transB, bsrc, ldb, kc, nc, bp, NR);
                for (int ic = 0; ic < m; ic += MC)
                {
                    int mc = Math.Min(MC, m - ic);
                    T* asrc = transA ? a + (long)pc * lda + ic : a + (long)ic * lda + pc;
                    PackA(transA, asrc, lda, mc, kc, ap, MR);
                    for (int jr = 0; jr < nc; jr += NR)
                    {
                        int nr = Math.Min(NR, nc - jr);
                        SweepA(avx2, mc, nr, kc, ap, bp + (long)jr * kc, c + (long)ic * ldc + jc + jr, ldc, alpha, betaEff, tile, MR, NR);
                    }
                }
            }
        }
    }

    /// <summary>Runs the micro-kernel down one packed B micro-panel over all MR-row panels of a packed A block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void SweepA<T>(bool avx2, int mc, int nr, int kc, T* ap, T* bpanel, T* c, int ldc,
        T alpha, T beta, T* tile, int MR, int NR) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            int mr = Math.Min(MR, mc - ir);
            T* apanel = ap + (long)ir * kc;
            T* cij = c + (long)ir * ldc;
            if (mr == MR && nr == NR)
            {
                MicroKernel(avx2, kc, apanel, bpanel, cij, ldc, alpha, beta);
            }
            else
            {
                MicroKernel(avx2, kc, apanel, bpanel, tile, NR, T.One, T.Zero);
                MergeEdge(mr, nr, tile, NR, cij, ldc, alpha, beta);
            }
        }
    }

    private static int RoundUp(int x, int q) => (x + q - 1) / q * q;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void MicroKernel<T>(bool avx2, int kc, T* ap, T* bp, T* c, int ldc, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            if (avx2)
                KernelF32Avx2(kc, (float*)ap, (float*)bp, (float*)c, ldc, Unsafe.BitCast<T, float>(alpha), Unsafe.BitCast<T, float>(beta));
            else
                KernelPortable(kc, ap, bp, c, ldc, alpha, beta, MRf, NRf);
        }
        else
        {
            if (avx2)
                KernelF64Avx2(kc, (double*)ap, (double*)bp, (double*)c, ldc, Unsafe.BitCast<T, double>(alpha), Unsafe.BitCast<T, double>(beta));
            else
                KernelPortable(kc, ap, bp, c, ldc, alpha, beta, MRd, NRd);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MergeEdge<T>(int mr, int nr, T* tile, int ldt, T* c, int ldc, T alpha, T beta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < mr; i++)
        {
            T* t = tile + i * ldt;
            T* ci = c + (long)i * ldc;
            if (beta == T.Zero)
                for (int j = 0; j < nr; j++) ci[j] = alpha * t[j];
            else
                for (int j = 0; j < nr; j++) ci[j] = alpha * t[j] + beta * ci[j];
        }
    }

    /// <summary>Portable MR×NR micro-kernel (Vector&lt;T&gt; when NR is a multiple of its width, else scalar).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void KernelPortable<T>(int kc, T* a, T* b, T* c, int ldc, T alpha, T beta, int MR, int NR)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T* acc = stackalloc T[MR * NR];
        new Span<T>(acc, MR * NR).Clear();
        int w = Vector<T>.Count;
        if (Vector.IsHardwareAccelerated && NR % w == 0)
        {
            for (int p = 0; p < kc; p++, a += MR, b += NR)
                for (int i = 0; i < MR; i++)
                {
                    var av = new Vector<T>(a[i]);
                    T* row = acc + i * NR;
                    for (int v = 0; v < NR; v += w)
                        (Vector.Load(row + v) + av * Vector.Load(b + v)).Store(row + v);
                }
        }
        else
        {
            for (int p = 0; p < kc; p++, a += MR, b += NR)
                for (int i = 0; i < MR; i++)
                {
                    T ai = a[i];
                    T* row = acc + i * NR;
                    for (int j = 0; j < NR; j++) row[j] += ai * b[j];
                }
        }
        MergeEdge(MR, NR, acc, NR, c, ldc, alpha, beta);
    }

    /// <summary>
    /// Packs an mc×kc block of op(A) (starting at <paramref name="a"/>) into MR-row micro-panels:
    /// panel r holds element (r·MR+i, p) at [r·MR·kc + p·MR + i]; rows past mc are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackA<T>(bool transA, T* a, int lda, int mc, int kc, T* dst, int MR)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int ir = 0; ir < mc; ir += MR, dst += (long)MR * kc)
        {
            int mr = Math.Min(MR, mc - ir);
            if (typeof(T) == typeof(float) && !transA && mr == 6 && MR == 6 && UseAvx2)
            {
                PackA6F32Avx((float*)(a + (long)ir * lda), lda, kc, (float*)dst);
            }
            else if (!transA)
            {
                for (int i = 0; i < mr; i++)
                {
                    T* src = a + (long)(ir + i) * lda;
                    T* d = dst + i;
                    for (int p = 0; p < kc; p++) d[p * MR] = src[p];
                }
                for (int i = mr; i < MR; i++)
                    for (int p = 0; p < kc; p++) dst[p * MR + i] = T.Zero;
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    T* src = a + (long)p * lda + ir;
                    T* d = dst + p * MR;
                    int i = 0;
                    for (; i < mr; i++) d[i] = src[i];
                    for (; i < MR; i++) d[i] = T.Zero;
                }
            }
        }
    }

    /// <summary>
    /// Packs a kc×nc block of op(B) (starting at <paramref name="b"/>) into NR-column micro-panels:
    /// panel r holds element (p, r·NR+j) at [r·NR·kc + p·NR + j]; columns past nc are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackB<T>(bool transB, T* b, int ldb, int kc, int nc, T* dst, int NR)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int jr = 0; jr < nc; jr += NR, dst += (long)NR * kc)
        {
            int nr = Math.Min(NR, nc - jr);
            if (!transB)
            {
                T* src = b + jr;
                if (nr == NR)
                {
                    uint bytes = (uint)(NR * sizeof(T));
                    for (int p = 0; p < kc; p++)
                        Unsafe.CopyBlockUnaligned(dst + p * NR, src + (long)p * ldb, bytes);
                }
                else
                {
                    for (int p = 0; p < kc; p++)
                    {
                        T* s = src + (long)p * ldb;
                        T* d = dst + p * NR;
                        int j = 0;
                        for (; j < nr; j++) d[j] = s[j];
                        for (; j < NR; j++) d[j] = T.Zero;
                    }
                }
            }
            else if (typeof(T) == typeof(float) && nr == 16 && NR == 16 && UseAvx2)
            {
                PackB16TransF32Avx((float*)(b + (long)jr * ldb), ldb, kc, (float*)dst);
            }
            else
            {
                for (int j = 0; j < nr; j++)
                {
                    T* s = b + (long)(jr + j) * ldb;
                    T* d = dst + j;
                    for (int p = 0; p < kc; p++) d[p * NR] = s[p];
                }
                for (int j = nr; j < NR; j++)
                    for (int p = 0; p < kc; p++) dst[p * NR + j] = T.Zero;
            }
        }
    }
}
