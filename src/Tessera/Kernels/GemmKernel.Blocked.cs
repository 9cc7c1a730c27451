using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Kernels;

/// <summary>Micro-kernel family a packed GEMM runs (and a <see cref="PackedGemmOperand{T}"/> was packed for).</summary>
public enum GemmKernelKind
{
    /// <summary>Portable <see cref="Vector{T}"/> code: 6×16 float, 6×8 double tiles.</summary>
    Portable,
    /// <summary>AVX2/FMA: 6×16 float, 6×8 double tiles (12 ymm accumulators).</summary>
    Avx2,
    /// <summary>AVX-512F: 12×32 float, 12×16 double tiles (24 zmm accumulators).</summary>
    Avx512,
}

public static partial class GemmKernel
{
    // Register tile (MR×NR) and cache blocks (MC×KC block of A in L2, KC×NR micro-panel of B in L1,
    // KC×NC block of B in L3) per element type and kernel. Internal and mutable only so tests/tuning can vary them.
    internal static int MCf = 144, KCf = 256, NCf = 2048;
    internal static int MCd = 72, KCd = 256, NCd = 1024;
    // AVX-512 (tuned on Zen 5: 48 KiB L1d, 1 MiB L2): a 256×32 float B micro-panel is 32 KiB of L1,
    // a 288×256 A block 288 KiB of L2.
    internal static int MCf512 = 288, KCf512 = 256, NCf512 = 4096;
    internal static int MCd512 = 144, KCd512 = 256, NCd512 = 2048;
    private const int MRf = 6, NRf = 16, MRd = 6, NRd = 8;

    /// <summary>The fastest kernel this CPU supports.</summary>
    internal static GemmKernelKind BestKernel { get; } =
        Avx512F.IsSupported && Vector512.IsHardwareAccelerated && Fma.IsSupported && Avx2.IsSupported ? GemmKernelKind.Avx512
        : Fma.IsSupported && Avx2.IsSupported ? GemmKernelKind.Avx2
        : GemmKernelKind.Portable;

    /// <summary>Test hook: caps the kernel family (never above <see cref="BestKernel"/>); null = best.</summary>
    internal static GemmKernelKind? ForceKernel { get; set; }

    /// <summary>The kernel family new (unpacked) GEMM calls use.</summary>
    public static GemmKernelKind ActiveKernel
    {
        get
        {
            if (ForcePortable) return GemmKernelKind.Portable;
            var k = ForceKernel ?? BestKernel;
            return k < BestKernel ? k : BestKernel;
        }
    }

    /// <summary>Register tile and cache blocking of one GEMM call.</summary>
    private readonly struct Tiling(GemmKernelKind kind, int mr, int nr, int mc, int kc, int nc)
    {
        public readonly GemmKernelKind Kind = kind;
        public readonly int MR = mr, NR = nr, MC = mc, KC = kc, NC = nc;
    }

    private static Tiling GetTiling<T>(GemmKernelKind kind, int kcOverride = 0)
    {
        Tiling t;
        if (typeof(T) == typeof(float))
            t = kind == GemmKernelKind.Avx512 ? new(kind, MRf512, NRf512, MCf512, KCf512, NCf512) : new(kind, MRf, NRf, MCf, KCf, NCf);
        else
            t = kind == GemmKernelKind.Avx512 ? new(kind, MRd512, NRd512, MCd512, KCd512, NCd512) : new(kind, MRd, NRd, MCd, KCd, NCd);
        return kcOverride > 0 ? new(t.Kind, t.MR, t.NR, t.MC, kcOverride, t.NC) : t;
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

    /// <summary>
    /// Single-threaded packed, cache-blocked GEMM on (sub-)matrices. When <paramref name="packedA"/> is not null,
    /// A was packed ahead of time (<see cref="PackedGemmOperand{T}"/>): k-block pc starts at packedA + pc·mPad and
    /// row i of this sub-problem sits at + (rowOffset + i)·kc within it; a/lda/transA are then unused.
    /// Likewise a pre-packed B (<see cref="PackedGemmOperandB{T}"/>): k-block pc starts at packedB + pc·nPad and
    /// column j of this sub-problem sits at + (colOffset + j)·kc within it; b/ldb/transB are then unused.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Blocked<T>(in Tiling t, bool transA, bool transB, int m, int n, int k, T alpha,
        T* a, int lda, T* b, int ldb, T beta, T* c, int ldc, T* packedA = null, int mPad = 0, int rowOffset = 0,
        T* packedB = null, int nPad = 0, int colOffset = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int MR = t.MR, NR = t.NR, KC = t.KC;
        // Row blocks are whole micro-panels: a pre-packed A can only be entered there, and it keeps the split
        // into full and edge tiles (which round alpha/beta differently) the same with and without pre-packing.
        // Column blocks likewise, for a pre-packed B.
        int MC = Math.Max(MR, t.MC / MR * MR);
        int NC = Math.Max(NR, t.NC / NR * NR);
        var kind = t.Kind;

        int kcMax = Math.Min(KC, k);
        // Packed blocks are padded to whole micro-panels (also when MC/NC are not multiples of MR/NR).
        int mcMax = RoundUp(Math.Min(MC, m), MR);
        int ncMax = RoundUp(Math.Min(NC, n), NR);
        T* ap = packedA == null ? PackBuffers<T>.A(mcMax * kcMax) : null;
        T* bp = packedB == null ? PackBuffers<T>.B(ncMax * kcMax) : null;
        T* tile = stackalloc T[MR * NR];

        // One row block (m <= MC): pack A once per k-block, then pack each B micro-panel right before
        // it is used, so the packed panel is still in L1 for the whole sweep over A (skinny problems).
        // Not for short k (e.g. a 3×3×3 first conv layer, k = 27): there the few-row strided panel copies
        // were slower than packing the whole KC×NC block row by row.
        bool fused = m <= MC && k >= 128;
        for (int jc = 0; jc < n; jc += NC)
        {
            int nc = Math.Min(NC, n - jc);
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                T betaEff = pc == 0 ? beta : T.One;
                T* bsrc = transB ? b + (long)jc * ldb + pc : b + (long)pc * ldb + jc;
                T* aBlock = packedA + (long)pc * mPad + (long)rowOffset * kc;
                T* bBlock = packedB + (long)pc * nPad + (long)(colOffset + jc) * kc;
                if (fused)
                {
                    T* am = ap;
                    if (packedA == null) PackA(kind, transA, transA ? a + (long)pc * lda : a + pc, lda, m, kc, ap, MR);
                    else am = aBlock;
                    for (int jr = 0; jr < nc; jr += NR)
                    {
                        int nr = Math.Min(NR, nc - jr);
                        T* panel = bp;
                        if (packedB == null) PackB(kind, transB, bsrc + (transB ? (long)jr * ldb : jr), ldb, kc, nr, bp, NR);
                        else panel = bBlock + (long)jr * kc;
                        SweepA(in t, m, nr, kc, am, panel, c + jc + jr, ldc, alpha, betaEff, tile);
                    }
                    continue;
                }

                if (packedB == null) PackB(kind, transB, bsrc, ldb, kc, nc, bp, NR);
                else bp = bBlock;
                for (int ic = 0; ic < m; ic += MC)
                {
                    int mc = Math.Min(MC, m - ic);
                    T* am = ap;
                    if (packedA == null)
                    {
                        T* asrc = transA ? a + (long)pc * lda + ic : a + (long)ic * lda + pc;
                        PackA(kind, transA, asrc, lda, mc, kc, ap, MR);
                    }
                    else am = aBlock + (long)ic * kc;
                    for (int jr = 0; jr < nc; jr += NR)
                    {
                        int nr = Math.Min(NR, nc - jr);
                        SweepA(in t, mc, nr, kc, am, bp + (long)jr * kc, c + (long)ic * ldc + jc + jr, ldc, alpha, betaEff, tile);
                    }
                }
            }
        }
    }

    /// <summary>Runs the micro-kernel down one packed B micro-panel over all MR-row panels of a packed A block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void SweepA<T>(in Tiling t, int mc, int nr, int kc, T* ap, T* bpanel, T* c, int ldc,
        T alpha, T beta, T* tile) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int MR = t.MR, NR = t.NR;
        var kind = t.Kind;
        for (int ir = 0; ir < mc; ir += MR)
        {
            int mr = Math.Min(MR, mc - ir);
            T* apanel = ap + (long)ir * kc;
            T* cij = c + (long)ir * ldc;
            if (mr == MR && nr == NR)
            {
                MicroKernel(kind, kc, apanel, bpanel, cij, ldc, alpha, beta, MR, NR);
            }
            else if (typeof(T) == typeof(float) && kind == GemmKernelKind.Avx512 && mr <= 8)
            {
                // Bottom tile with few rows (m = 64 leaves 4 of 12, m = 32 leaves 8): a shorter kernel
                // on the same panel skips the zero padding rows' FMAs.
                // Writes straight to C only when the variant's rows are exactly the valid rows.
                int rows = mr <= 4 ? 4 : 8;
                bool direct = nr == NR && mr == rows;
                float* dst = direct ? (float*)cij : (float*)tile;
                long ld = direct ? ldc : NR;
                float al = direct ? Unsafe.BitCast<T, float>(alpha) : 1f, be = direct ? Unsafe.BitCast<T, float>(beta) : 0f;
                if (rows == 4) KernelF32Avx512Rows4(kc, (float*)apanel, (float*)bpanel, dst, ld, al, be);
                else KernelF32Avx512Rows8(kc, (float*)apanel, (float*)bpanel, dst, ld, al, be);
                if (!direct) MergeEdge(mr, nr, tile, NR, cij, ldc, alpha, beta);
            }
            else
            {
                // Edge tile: compute the full MR×NR tile into scratch (packed panels are zero-padded) and
                // merge only the valid part, so the kernels never need masks.
                MicroKernel(kind, kc, apanel, bpanel, tile, NR, T.One, T.Zero, MR, NR);
                MergeEdge(mr, nr, tile, NR, cij, ldc, alpha, beta);
            }
        }
    }

    private static int RoundUp(int x, int q) => (x + q - 1) / q * q;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void MicroKernel<T>(GemmKernelKind kind, int kc, T* ap, T* bp, T* c, int ldc, T alpha, T beta, int MR, int NR)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float))
        {
            float al = Unsafe.BitCast<T, float>(alpha), be = Unsafe.BitCast<T, float>(beta);
            if (kind == GemmKernelKind.Avx512) KernelF32Avx512(kc, (float*)ap, (float*)bp, (float*)c, ldc, al, be);
            else if (kind == GemmKernelKind.Avx2) KernelF32Avx2(kc, (float*)ap, (float*)bp, (float*)c, ldc, al, be);
            else KernelPortable(kc, ap, bp, c, ldc, alpha, beta, MR, NR);
        }
        else
        {
            double al = Unsafe.BitCast<T, double>(alpha), be = Unsafe.BitCast<T, double>(beta);
            if (kind == GemmKernelKind.Avx512) KernelF64Avx512(kc, (double*)ap, (double*)bp, (double*)c, ldc, al, be);
            else if (kind == GemmKernelKind.Avx2) KernelF64Avx2(kc, (double*)ap, (double*)bp, (double*)c, ldc, al, be);
            else KernelPortable(kc, ap, bp, c, ldc, alpha, beta, MR, NR);
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
    private static unsafe void PackA<T>(GemmKernelKind kind, bool transA, T* a, int lda, int mc, int kc, T* dst, int MR)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool simd = kind != GemmKernelKind.Portable;
        for (int ir = 0; ir < mc; ir += MR, dst += (long)MR * kc)
        {
            int mr = Math.Min(MR, mc - ir);
            if (typeof(T) == typeof(float) && simd && !transA && mr == MR && MR % 6 == 0)
            {
                // 6-row groups through an in-register transpose, written with the panel's row stride MR.
                for (int g = 0; g < MR; g += 6)
                    PackA6F32Avx((float*)(a + (long)(ir + g) * lda), lda, kc, (float*)(dst + g), MR);
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
            else if (mr == MR)
            {
                // Transposed A: each k-row of the panel is MR contiguous elements.
                uint bytes = (uint)(MR * sizeof(T));
                for (int p = 0; p < kc; p++)
                    Unsafe.CopyBlockUnaligned(dst + p * MR, a + (long)p * lda + ir, bytes);
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
    private static unsafe void PackB<T>(GemmKernelKind kind, bool transB, T* b, int ldb, int kc, int nc, T* dst, int NR)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool simd = kind != GemmKernelKind.Portable;
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
            else if (typeof(T) == typeof(float) && simd && nr >= 8 && NR % 8 == 0)
            {
                PackBTransF32Avx((float*)(b + (long)jr * ldb), ldb, kc, (float*)dst, NR, nr);
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
