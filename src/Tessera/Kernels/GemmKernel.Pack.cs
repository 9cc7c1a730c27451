using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tessera.Kernels;

public static partial class GemmKernel
{
    /// <summary>
    /// Packs one full 6-row float micro-panel of a non-transposed A (rows <paramref name="a"/> + i·lda)
    /// into p-major order d[p·6 + i], eight columns at a time through an in-register 6×8 transpose.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackA6F32Avx(float* a, int lda, int kc, float* d)
    {
        float* r0 = a, r1 = a + lda, r2 = r1 + lda, r3 = r2 + lda, r4 = r3 + lda, r5 = r4 + lda;
        int p = 0;
        for (; p + 8 <= kc; p += 8, d += 48)
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

            Sse.Store(d + 0, s0.GetLower()); Sse2.StoreScalar((double*)(d + 4), lo4);
            Sse.Store(d + 6, s1.GetLower()); Sse2.StoreHigh((double*)(d + 10), lo4);
            Sse.Store(d + 12, s2.GetLower()); Sse2.StoreScalar((double*)(d + 16), lo5);
            Sse.Store(d + 18, s3.GetLower()); Sse2.StoreHigh((double*)(d + 22), lo5);
            Sse.Store(d + 24, Avx.ExtractVector128(s0, 1)); Sse2.StoreScalar((double*)(d + 28), hi4);
            Sse.Store(d + 30, Avx.ExtractVector128(s1, 1)); Sse2.StoreHigh((double*)(d + 34), hi4);
            Sse.Store(d + 36, Avx.ExtractVector128(s2, 1)); Sse2.StoreScalar((double*)(d + 40), hi5);
            Sse.Store(d + 42, Avx.ExtractVector128(s3, 1)); Sse2.StoreHigh((double*)(d + 46), hi5);
        }
        for (; p < kc; p++, d += 6)
        {
            d[0] = r0[p]; d[1] = r1[p]; d[2] = r2[p]; d[3] = r3[p]; d[4] = r4[p]; d[5] = r5[p];
        }
    }
}
