using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Tessera.Kernels;
using Xunit;

namespace Tessera.Tests.Kernels;

/// <summary>
/// Kernel selection, the three micro-kernel families against each other and a naive reference on random
/// shapes (every edge remainder of the 12×32 / 6×16 tiles), and pre-packed A operands.
/// </summary>
[Collection(nameof(GemmKernelState))]
public sealed class GemmKernelAvx512Tests
{
    [Fact]
    public void Best_kernel_matches_the_cpu()
    {
        var expected = Avx512F.IsSupported && Vector512.IsHardwareAccelerated && Fma.IsSupported && Avx2.IsSupported ? GemmKernelKind.Avx512
            : Fma.IsSupported && Avx2.IsSupported ? GemmKernelKind.Avx2 : GemmKernelKind.Portable;
        Assert.Equal(expected, GemmKernel.ActiveKernel);
        try
        {
            GemmKernel.ForceKernel = GemmKernelKind.Portable;
            Assert.Equal(GemmKernelKind.Portable, GemmKernel.ActiveKernel);
        }
        finally { GemmKernel.ForceKernel = null; }
    }

    public static IEnumerable<object[]> RandomCases()
    {
        var rng = new Random(2024);
        for (int i = 0; i < 24; i++)
        {
            // m covers every remainder mod 12 and 6, n every remainder mod 32 and 16 (over the cases).
            int m = 1 + (i * 5) % 40, n = 1 + (i * 13) % 97, k = 1 + rng.Next(300);
            yield return new object[] { m, n, k, i % 2 == 1, i / 2 % 2 == 1, i % 3 == 0 ? 0.0 : 0.5 + i % 4, i % 5, 1 + i % 2 };
        }
    }

    [Theory]
    [MemberData(nameof(RandomCases))]
    public void Kernels_agree_with_reference_and_each_other(int m, int n, int k, bool ta, bool tb, double beta, int pad, int threads)
    {
        var results = new List<float[]>();
        foreach (var kind in new[] { GemmKernelKind.Avx512, GemmKernelKind.Avx2, GemmKernelKind.Portable })
        {
            var (a, lda, b, ldb, c, ldc) = Operands(m, n, k, ta, tb, pad, seed: m * 1000 + n + k);
            var expected = Reference(ta, tb, m, n, k, 1.5f, a, lda, b, ldb, (float)beta, c, ldc);
            Run(kind, threads, () => GemmKernel.Sgemm(ta, tb, m, n, k, 1.5f, a, lda, b, ldb, (float)beta, c, ldc));
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                    Assert.True(Math.Abs(c[i * ldc + j] - expected[i * ldc + j]) <= 1e-5 * (1 + Math.Abs(expected[i * ldc + j])) * Math.Sqrt(k),
                        $"{kind}: C[{i},{j}] = {c[i * ldc + j]}, expected {expected[i * ldc + j]}");
            results.Add(c);
        }
        // Same inputs, different kernels: equal up to summation-order rounding.
        for (int r = 1; r < results.Count; r++)
            for (int x = 0; x < results[0].Length; x++)
                Assert.True(Math.Abs(results[0][x] - results[r][x]) <= 1e-5 * (1 + Math.Abs(results[0][x])) * Math.Sqrt(k));
    }

    [Theory]
    [InlineData(1, 1, 1, false, false)]
    [InlineData(12, 32, 256, false, false)]
    [InlineData(13, 33, 257, true, false)]
    [InlineData(64, 147, 12544 / 64, false, true)]
    [InlineData(100, 70, 600, true, true)]
    [InlineData(300, 49, 40, false, false)]
    public void Packed_A_is_bit_identical_to_unpacked(int m, int n, int k, bool ta, bool tb)
    {
        foreach (var kind in new[] { GemmKernelKind.Avx512, GemmKernelKind.Avx2, GemmKernelKind.Portable })
            foreach (int threads in new[] { 1, 2 })
                foreach (bool tiny in new[] { false, true })
                {
                    var (a, lda, b, ldb, c, ldc) = Operands(m, n, k, ta, tb, pad: 3, seed: m + n + k);
                    var c2 = (float[])c.Clone();
                    PackedGemmOperand<float>? packed = null;
                    Run(kind, threads, () =>
                    {
                        GemmKernel.Sgemm(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, -0.5f, c, ldc);
                        packed = GemmKernel.PackA(ta, m, k, a, lda);
                        GemmKernel.SgemmPacked(packed, tb, n, 0.75f, b, ldb, -0.5f, c2, ldc);
                    }, tiny);
                    Assert.Equal(Math.Min((int)kind, (int)GemmKernel.ActiveKernel), (int)packed!.Kernel);
                    Assert.Equal((m, k), (packed.Rows, packed.Depth));
                    Assert.Equal(c, c2);
                }
    }

    [Theory]
    [InlineData(32, 27, 3000, false, true)]    // Fashion-CNN conv1 weight gradient shape, shortened
    [InlineData(7, 40, 1500, true, false)]
    [InlineData(64, 147, 2000, false, true)]
    public void Split_over_k_matches_reference_plain_and_packed(int m, int n, int k, bool ta, bool tb)
    {
        foreach (var kind in new[] { GemmKernelKind.Avx512, GemmKernelKind.Avx2, GemmKernelKind.Portable })
        {
            var (a, lda, b, ldb, c, ldc) = Operands(m, n, k, ta, tb, pad: 2, seed: m + k);
            var expected = Reference(ta, tb, m, n, k, -0.5f, a, lda, b, ldb, 2f, c, ldc);
            var c2 = (float[])c.Clone();
            Run(kind, 3, () =>
            {
                GemmKernel.KSplitTilesPerThread = 1000;
                GemmKernel.Sgemm(ta, tb, m, n, k, -0.5f, a, lda, b, ldb, 2f, c, ldc);
                GemmKernel.SgemmPacked(GemmKernel.PackA(ta, m, k, a, lda), tb, n, -0.5f, b, ldb, 2f, c2, ldc);
            });
            for (int x = 0; x < c.Length; x++)
            {
                Assert.True(Math.Abs(c[x] - expected[x]) <= 2e-4 * (1 + Math.Abs(expected[x])), $"{kind} [{x}]: {c[x]} vs {expected[x]}");
                Assert.Equal(c[x], c2[x]);
            }
        }
    }

    [Theory]
    [InlineData(1, 1, 1, false, false)]
    [InlineData(12, 32, 256, false, false)]
    [InlineData(13, 33, 257, true, false)]
    [InlineData(128, 1536 / 8, 512 / 4, false, false)]   // a transformer's QKV projection, shortened
    [InlineData(100, 70, 600, true, true)]
    [InlineData(300, 49, 40, false, true)]
    public void Packed_B_is_bit_identical_to_unpacked(int m, int n, int k, bool ta, bool tb)
    {
        foreach (var kind in new[] { GemmKernelKind.Avx512, GemmKernelKind.Avx2, GemmKernelKind.Portable })
            foreach (int threads in new[] { 1, 2 })
                foreach (bool tiny in new[] { false, true })   // tiny: several NC and KC blocks, the non-fused loop
                {
                    var (a, lda, b, ldb, c, ldc) = Operands(m, n, k, ta, tb, pad: 3, seed: m + n + k);
                    var c2 = (float[])c.Clone();
                    PackedGemmOperandB<float>? packed = null;
                    Run(kind, threads, () =>
                    {
                        GemmKernel.Sgemm(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, -0.5f, c, ldc);
                        packed = GemmKernel.PackB(tb, k, n, b, ldb);
                        GemmKernel.SgemmPackedB(ta, m, 0.75f, a, lda, packed, -0.5f, c2, ldc);
                    }, tiny);
                    Assert.Equal(Math.Min((int)kind, (int)GemmKernel.ActiveKernel), (int)packed!.Kernel);
                    Assert.Equal((k, n), (packed.Depth, packed.Cols));
                    int bad = Enumerable.Range(0, c.Length).FirstOrDefault(x => c[x] != c2[x], -1);
                    Assert.True(bad < 0, $"{kind}, {threads} threads, tiny {tiny}: C[{bad / ldc},{bad % ldc}] {(bad < 0 ? 0 : c[bad])} vs {(bad < 0 ? 0 : c2[bad])}");
                }
    }

    [Fact]
    public void Packed_B_split_over_k_matches_unpacked_and_reference()
    {
        const int m = 7, n = 40, k = 1500;
        foreach (var kind in new[] { GemmKernelKind.Avx512, GemmKernelKind.Avx2, GemmKernelKind.Portable })
        {
            var (a, lda, b, ldb, c, ldc) = Operands(m, n, k, true, false, pad: 2, seed: 11);
            var expected = Reference(true, false, m, n, k, -0.5f, a, lda, b, ldb, 2f, c, ldc);
            var c2 = (float[])c.Clone();
            Run(kind, 3, () =>
            {
                GemmKernel.KSplitTilesPerThread = 1000;
                GemmKernel.Sgemm(true, false, m, n, k, -0.5f, a, lda, b, ldb, 2f, c, ldc);
                GemmKernel.SgemmPackedB(true, m, -0.5f, a, lda, GemmKernel.PackB(false, k, n, b, ldb), 2f, c2, ldc);
            });
            for (int x = 0; x < c.Length; x++)
            {
                Assert.True(Math.Abs(c2[x] - expected[x]) <= 2e-4 * (1 + Math.Abs(expected[x])), $"{kind} [{x}]: {c2[x]} vs {expected[x]}");
                Assert.Equal(c[x], c2[x]);
            }
        }
    }

    [Fact]
    public void Packed_B_double_matches_reference_and_bad_input_throws()
    {
        const int m = 25, n = 19, k = 40;
        var rng = new Random(4);
        var a = Enumerable.Range(0, m * k).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var b = Enumerable.Range(0, k * n).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var c = new double[m * n];
        GemmKernel.DgemmPackedB(false, m, 1.0, a, k, GemmKernel.PackB(false, k, n, b, n), 0.0, c, n);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
                Assert.Equal(s, c[i * n + j], 1e-12);
            }
        Assert.Throws<ArgumentException>(() => GemmKernel.PackB(false, k, n, new float[k * n - 1], n));
        var packed = GemmKernel.PackB(false, 4, 3, new float[12], 3);
        Assert.Throws<ArgumentException>(() => GemmKernel.SgemmPackedB(false, 2, 1f, new float[7], 4, packed, 0f, new float[6], 3));
        Assert.Throws<ArgumentException>(() => GemmKernel.SgemmPackedB(false, 2, 1f, new float[8], 4, packed, 0f, new float[5], 3));
    }

    [Fact]
    public void Packed_operand_keeps_the_kernel_it_was_packed_for()
    {
        const int m = 30, n = 70, k = 90;
        var (a, lda, b, ldb, c, ldc) = Operands(m, n, k, false, false, 0, seed: 5);
        var c2 = (float[])c.Clone();
        PackedGemmOperand<float>? packed = null;
        Run(GemmKernelKind.Portable, 1, () =>
        {
            packed = GemmKernel.PackA(false, m, k, a, lda);
            GemmKernel.Sgemm(false, false, m, n, k, 1f, a, lda, b, ldb, 0f, c, ldc);
        });
        // Run with the default (best) kernel selected: the operand still runs the portable kernel's tiles.
        Run(GemmKernel.BestKernel, 1, () => GemmKernel.SgemmPacked(packed!, false, n, 1f, b, ldb, 0f, c2, ldc));
        Assert.Equal(GemmKernelKind.Portable, packed!.Kernel);
        Assert.Equal(c, c2);
    }

    [Fact]
    public void Packed_double_matches_reference()
    {
        const int m = 25, n = 19, k = 40;
        var rng = new Random(3);
        var a = Enumerable.Range(0, m * k).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var b = Enumerable.Range(0, k * n).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var c = new double[m * n];
        var packed = GemmKernel.PackA(false, m, k, a, k);
        GemmKernel.DgemmPacked(packed, false, n, 1.0, b, n, 0.0, c, n);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
                Assert.Equal(s, c[i * n + j], 1e-12);
            }
    }

    [Fact]
    public void Packed_bad_input_throws()
    {
        var a = new float[12];
        Assert.Throws<ArgumentOutOfRangeException>(() => GemmKernel.PackA(false, 0, 3, a, 3));
        Assert.Throws<ArgumentException>(() => GemmKernel.PackA(false, 4, 4, a, 4));
        var packed = GemmKernel.PackA(false, 4, 3, a, 3);
        Assert.Throws<ArgumentException>(() => GemmKernel.SgemmPacked(packed, false, 5, 1f, new float[14], 5, 0f, new float[20], 5));
        Assert.Throws<ArgumentException>(() => GemmKernel.SgemmPacked(packed, false, 5, 1f, new float[15], 5, 0f, new float[19], 5));
        Assert.Throws<ArgumentNullException>(() => GemmKernel.SgemmPacked(null!, false, 5, 1f, new float[15], 5, 0f, new float[20], 5));
    }

    // ------------------------------------------------------------------ helpers

    private static void Run(GemmKernelKind kind, int threads, Action action, bool tinyBlocks = false)
    {
        int savedThreads = GemmKernel.MaxThreads;
        long small = GemmKernel.SmallThreshold, perThread = GemmKernel.MinWorkPerThread, perTask = GemmKernel.MinWorkPerTask;
        int kSplit = GemmKernel.KSplitTilesPerThread;
        var blocks = (GemmKernel.MCf, GemmKernel.KCf, GemmKernel.NCf, GemmKernel.MCf512, GemmKernel.KCf512, GemmKernel.NCf512);
        try
        {
            GemmKernel.ForceKernel = kind;
            GemmKernel.SmallThreshold = 0;
            GemmKernel.MaxThreads = threads;
            GemmKernel.MinWorkPerThread = 1;
            GemmKernel.MinWorkPerTask = 1;
            if (tinyBlocks)
                (GemmKernel.MCf, GemmKernel.KCf, GemmKernel.NCf, GemmKernel.MCf512, GemmKernel.KCf512, GemmKernel.NCf512) = (13, 7, 37, 25, 9, 70);
            action();
        }
        finally
        {
            GemmKernel.ForceKernel = null;
            GemmKernel.MaxThreads = savedThreads;
            GemmKernel.SmallThreshold = small;
            GemmKernel.MinWorkPerThread = perThread;
            GemmKernel.MinWorkPerTask = perTask;
            GemmKernel.KSplitTilesPerThread = kSplit;
            (GemmKernel.MCf, GemmKernel.KCf, GemmKernel.NCf, GemmKernel.MCf512, GemmKernel.KCf512, GemmKernel.NCf512) = blocks;
        }
    }

    private static (float[] A, int Lda, float[] B, int Ldb, float[] C, int Ldc) Operands(int m, int n, int k, bool ta, bool tb, int pad, int seed)
    {
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        var rng = new Random(seed);
        float[] Fill(int len) => Enumerable.Range(0, len).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        return (Fill((ta ? k : m) * lda), lda, Fill((tb ? n : k) * ldb), ldb, Fill(m * ldc), ldc);
    }

    private static float[] Reference(bool ta, bool tb, int m, int n, int k, float alpha, float[] a, int lda, float[] b, int ldb,
        float beta, float[] c, int ldc)
    {
        var r = (float[])c.Clone();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
                r[i * ldc + j] = (float)(alpha * s + (beta == 0 ? 0 : beta * (double)c[i * ldc + j]));
            }
        return r;
    }
}
