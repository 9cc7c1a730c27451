using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Kernels;

public static partial class GemmKernel
{
    /// <summary>
    /// Packs six rows of a non-transposed A (rows <paramref name="a"/> + i·lda) into p-major order
    /// d[p·ldd + i] (ldd = the panel height MR, a multiple of 6), eight columns at a time through an
    /// in-register 6×8 transpose.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackA6F32Avx(float* a, int lda, int kc, float* d, int ldd)
    {
        float* r0 = a, r1 = a + lda, r2 = r1 + lda, r3 = r2 + lda, r4 = r3 + lda, r5 = r4 + lda;
        int p = 0;
        for (; p + 8 <= kc; p += 8, d += 8 * ldd)
        {
            var x0 = Avx.LoadVector256(r0 + p);
            var x1 = Avx.LoadVector256(r1 + p);
            var x2 = Avx.LoadVector256(r2 + p);
            var x3 = Avx.LoadVector256(r3 + p);
            var x4 = Avx.LoadVector256(r4 + p);
            var x5 = Avx.LoadVector256(r5 + p);
            var t0 = Avx.UnpackLow(x0, x1);   // a0 b0 a1 b1 | a4 b4 a5 b5
            var t1 = Avx.UnpackHigh(x0, x1);  // a2 b2 a3 b3 | a6 b6 a7 b7
            var t2 = Avx.UnpackLow(x2, x3);
            var t3 = Avx.UnpackHigh(x2, x3);
            var t4 = Avx.UnpackLow(x4, x5).AsDouble();  // (e0 f0)(e1 f1) | (e4 f4)(e5 f5)
            var t5 = Avx.UnpackHigh(x4, x5).AsDouble(); // (e2 f2)(e3 f3) | (e6 f6)(e7 f7)
            var s0 = Avx.Shuffle(t0, t2, 0x44);  // a0 b0 c0 d0 | a4 b4 c4 d4
            var s1 = Avx.Shuffle(t0, t2, 0xEE);  // a1 b1 c1 d1 | a5 b5 c5 d5
            var s2 = Avx.Shuffle(t1, t3, 0x44);  // a2 .. | a6 ..
            var s3 = Avx.Shuffle(t1, t3, 0xEE);  // a3 .. | a7 ..
            var lo4 = t4.GetLower();
            var hi4 = Avx.ExtractVector128(t4, 1);
            var lo5 = t5.GetLower();
            var hi5 = Avx.ExtractVector128(t5, 1);

            Sse.Store(d, s0.GetLower()); Sse2.StoreScalar((double*)(d + 0 * ldd + 4), lo4);
            Sse.Store(d + 1 * ldd, s1.GetLower()); Sse2.StoreHigh((double*)(d + 1 * ldd + 4), lo4);
            Sse.Store(d + 2 * ldd, s2.GetLower()); Sse2.StoreScalar((double*)(d + 2 * ldd + 4), lo5);
            Sse.Store(d + 3 * ldd, s3.GetLower()); Sse2.StoreHigh((double*)(d + 3 * ldd + 4), lo5);
            Sse.Store(d + 4 * ldd, Avx.ExtractVector128(s0, 1)); Sse2.StoreScalar((double*)(d + 4 * ldd + 4), hi4);
            Sse.Store(d + 5 * ldd, Avx.ExtractVector128(s1, 1)); Sse2.StoreHigh((double*)(d + 5 * ldd + 4), hi4);
            Sse.Store(d + 6 * ldd, Avx.ExtractVector128(s2, 1)); Sse2.StoreScalar((double*)(d + 6 * ldd + 4), hi5);
            Sse.Store(d + 7 * ldd, Avx.ExtractVector128(s3, 1)); Sse2.StoreHigh((double*)(d + 7 * ldd + 4), hi5);
        }
        for (; p < kc; p++, d += ldd)
        {
            d[0] = r0[p]; d[1] = r1[p]; d[2] = r2[p]; d[3] = r3[p]; d[4] = r4[p]; d[5] = r5[p];
        }
    }

    /// <summary>
    /// Packs one NR-column float micro-panel (NR a multiple of 8; the first nr columns valid, the rest zero) of a transposed B (B stored n×k:
    /// column j of op(B) is the contiguous row <paramref name="b"/> + j·ldb) into d[p·NR + j], through
    /// 8×8 in-register transposes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackBTransF32Avx(float* b, int ldb, int kc, float* d, int NR, int nr)
    {
        // Whole groups of 8 columns through the transpose; the rest (nr % 8 columns, then zero padding up to NR)
        // element by element.
        int groups = nr / 8;
        float* d0 = d;
        for (int j = groups * 8; j < NR; j++)
        {
            float* s = b + (long)j * ldb;
            if (j < nr) for (int q = 0; q < kc; q++) d0[q * NR + j] = s[q];
            else for (int q = 0; q < kc; q++) d0[q * NR + j] = 0f;
        }
        int p = 0;
        for (; p + 8 <= kc; p += 8, d += 8 * NR)
        {
            for (int h = 0; h < groups; h++)
            {
                float* s = b + (long)(8 * h) * ldb + p;
                var r0 = Avx.LoadVector256(s);
                var r1 = Avx.LoadVector256(s + ldb);
                var r2 = Avx.LoadVector256(s + 2L * ldb);
                var r3 = Avx.LoadVector256(s + 3L * ldb);
                var r4 = Avx.LoadVector256(s + 4L * ldb);
                var r5 = Avx.LoadVector256(s + 5L * ldb);
                var r6 = Avx.LoadVector256(s + 6L * ldb);
                var r7 = Avx.LoadVector256(s + 7L * ldb);
                var t0 = Avx.UnpackLow(r0, r1);
                var t1 = Avx.UnpackHigh(r0, r1);
                var t2 = Avx.UnpackLow(r2, r3);
                var t3 = Avx.UnpackHigh(r2, r3);
                var t4 = Avx.UnpackLow(r4, r5);
                var t5 = Avx.UnpackHigh(r4, r5);
                var t6 = Avx.UnpackLow(r6, r7);
                var t7 = Avx.UnpackHigh(r6, r7);
                var s0 = Avx.Shuffle(t0, t2, 0x44);
                var s1 = Avx.Shuffle(t0, t2, 0xEE);
                var s2 = Avx.Shuffle(t1, t3, 0x44);
                var s3 = Avx.Shuffle(t1, t3, 0xEE);
                var s4 = Avx.Shuffle(t4, t6, 0x44);
                var s5 = Avx.Shuffle(t4, t6, 0xEE);
                var s6 = Avx.Shuffle(t5, t7, 0x44);
                var s7 = Avx.Shuffle(t5, t7, 0xEE);
                float* o = d + 8 * h;
                Avx.Store(o + 0 * NR, Avx.Permute2x128(s0, s4, 0x20));
                Avx.Store(o + 1 * NR, Avx.Permute2x128(s1, s5, 0x20));
                Avx.Store(o + 2 * NR, Avx.Permute2x128(s2, s6, 0x20));
                Avx.Store(o + 3 * NR, Avx.Permute2x128(s3, s7, 0x20));
                Avx.Store(o + 4 * NR, Avx.Permute2x128(s0, s4, 0x31));
                Avx.Store(o + 5 * NR, Avx.Permute2x128(s1, s5, 0x31));
                Avx.Store(o + 6 * NR, Avx.Permute2x128(s2, s6, 0x31));
                Avx.Store(o + 7 * NR, Avx.Permute2x128(s3, s7, 0x31));
            }
        }
        for (; p < kc; p++, d += NR)
            for (int j = 0; j < groups * 8; j++) d[j] = b[(long)j * ldb + p];
    }
}
