using Tessera.Kernels;
using Xunit;

namespace Tessera.Tests.Kernels;

[CollectionDefinition(nameof(GemmKernelState), DisableParallelization = true)]
public sealed class GemmKernelState;

/// <summary>
/// GEMM kernels against a naive double-accumulating reference, over every code path:
/// the direct small path, the packed single-threaded path, the packed multithreaded path (each with the
/// best kernel of this CPU: AVX-512 on the dev machine), the AVX2 kernel forced, the portable micro-kernel,
/// and tiny cache blocks (many MC/KC/NC iterations).
/// </summary>
[Collection(nameof(GemmKernelState))]
public sealed class GemmKernelTests
{
    public enum Path { Small, Packed, Threaded, Portable, TinyBlocks, Avx2 }

    private static readonly (int M, int N, int K)[] Shapes =
    {
        (1, 1, 1), (2, 3, 4), (6, 16, 8), (7, 17, 9), (17, 33, 65), (12, 32, 5),
        (64, 784, 256), (16, 200, 64), (5, 300, 20), (300, 5, 20), (150, 70, 300), (31, 47, 1), (1, 129, 70), (97, 1, 33),
        // AVX-512 tiles are 12×32 (float) and 12×16 (double): exact tiles, one short of / one past a tile in each dimension.
        (12, 16, 3), (24, 64, 17), (11, 31, 9), (13, 33, 40), (25, 65, 300), (36, 96, 257),
    };

    private static readonly Path[] Paths = Enum.GetValues<Path>();

    public static IEnumerable<object[]> SgemmCases()
    {
        int idx = 0;
        foreach (var (m, n, k) in Shapes)
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    foreach (var path in Paths)
                    {
                        // The big skinny shape is slow in a Debug test run: only a few production-path cases.
                        if (m * n * k > 1_000_000 && !((path == Path.Threaded && !ta) || (path == Path.Packed && ta == tb))) continue;
                        var (alpha, beta, pad) = (idx++ % 4) switch
                        {
                            0 => (1.0, 0.0, 0),
                            1 => (0.5, 1.0, 3),
                            2 => (-1.25, 0.75, 1),
                            _ => (2.0, -0.5, 8),
                        };
                        yield return new object[] { m, n, k, ta, tb, alpha, beta, pad, path };
                    }
    }

    public static IEnumerable<object[]> DgemmCases()
    {
        int idx = 0;
        foreach (var (m, n, k) in Shapes)
        {
            if (m * n * k > 1_000_000) continue;
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    foreach (var path in Paths)
                    {
                        double alpha = idx % 3 == 0 ? 1.0 : -0.75, beta = idx % 2 == 0 ? 0.0 : 1.5;
                        yield return new object[] { m, n, k, ta, tb, alpha, beta, idx++ % 3 * 2, path };
                    }
        }
    }

    [Theory]
    [MemberData(nameof(SgemmCases))]
    public void Sgemm_matches_reference(int m, int n, int k, bool transA, bool transB, double alpha, double beta, int pad, Path path)
        => RunSingle(m, n, k, transA, transB, (float)alpha, (float)beta, pad, path, nanC: false);

    [Theory]
    [MemberData(nameof(DgemmCases))]
    public void Dgemm_matches_reference(int m, int n, int k, bool transA, bool transB, double alpha, double beta, int pad, Path path)
        => RunDouble(m, n, k, transA, transB, alpha, beta, pad, path, nanC: false);

    [Theory]
    [InlineData(Path.Small)]
    [InlineData(Path.Packed)]
    [InlineData(Path.Threaded)]
    [InlineData(Path.Portable)]
    [InlineData(Path.TinyBlocks)]
    [InlineData(Path.Avx2)]
    public void Beta_zero_ignores_NaN_in_C(Path path)
    {
        foreach (var (m, n, k) in new[] { (17, 33, 65), (6, 16, 8), (1, 1, 1), (40, 50, 60) })
        {
            RunSingle(m, n, k, false, false, 1.5f, 0f, 2, path, nanC: true);
            RunSingle(m, n, k, true, true, 1f, 0f, 0, path, nanC: true);
            RunDouble(m, n, k, false, true, 1d, 0d, 1, path, nanC: true);
        }
    }

    [Theory]
    [InlineData(0f, 7, 9)]
    [InlineData(0.5f, 7, 9)]
    [InlineData(1f, 64, 40)]
    [InlineData(-2f, 3, 1)]
    public void K_zero_scales_C_by_beta(float beta, int m, int n)
    {
        var c = Fill(m * n, 5);
        var expected = c.Select(x => beta * x).ToArray();
        if (beta == 0) Array.Fill(c, float.NaN);
        GemmKernel.Sgemm(false, false, m, n, 0, 1f, ReadOnlySpan<float>.Empty, 1, ReadOnlySpan<float>.Empty, n, beta, c, n);
        Assert.Equal(expected, c);

        var cd = Fill(m * n, 6).Select(x => (double)x).ToArray();
        var expectedD = cd.Select(x => beta * x).ToArray();
        GemmKernel.Dgemm(true, true, m, n, 0, 2.0, ReadOnlySpan<double>.Empty, m, ReadOnlySpan<double>.Empty, 1, beta, cd, n);
        Assert.Equal(expectedD, cd);
    }

    [Fact]
    public void Alpha_zero_does_not_read_A_or_B()
    {
        var a = new float[12]; Array.Fill(a, float.NaN);
        var c = Fill(9, 3);
        var expected = c.Select(x => 2f * x).ToArray();
        GemmKernel.Sgemm(false, false, 3, 3, 4, 0f, a, 4, a, 3, 2f, c, 3);
        Assert.Equal(expected, c);
    }

    [Fact]
    public void Short_spans_and_bad_strides_throw()
    {
        var a = new float[10]; var b = new float[20]; var c = new float[20];
        Assert.Throws<ArgumentException>(() => GemmKernel.Sgemm(false, false, 4, 5, 3, 1f, a, 3, b, 5, 0f, c, 5));
        Assert.Throws<ArgumentException>(() => GemmKernel.Sgemm(false, false, 2, 5, 3, 1f, a, 2, b, 5, 0f, c, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => GemmKernel.Sgemm(false, false, -1, 5, 3, 1f, a, 3, b, 5, 0f, c, 5));
    }

    [Fact]
    public void Max_threads_is_clamped_and_defaults_to_processor_count()
    {
        int saved = GemmKernel.MaxThreads;
        try
        {
            GemmKernel.MaxThreads = 0;
            Assert.Equal(1, GemmKernel.MaxThreads);
        }
        finally { GemmKernel.MaxThreads = saved; }
        Assert.True(GemmKernel.MaxThreads >= 1);
    }

    // ------------------------------------------------------------------ helpers

    private static void RunSingle(int m, int n, int k, bool ta, bool tb, float alpha, float beta, int pad, Path path, bool nanC)
    {
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        int aRows = ta ? k : m, bRows = tb ? n : k;
        var a = Fill(Math.Max(0, (aRows - 1) * lda + (ta ? m : k)), m * 31 + k);
        var b = Fill(Math.Max(0, (bRows - 1) * ldb + (tb ? k : n)), n * 17 + k);
        var c = Fill((m - 1) * ldc + n, m + n);
        if (nanC) Array.Fill(c, float.NaN);
        var expected = Reference(ta, tb, m, n, k, alpha, a.Select(x => (double)x).ToArray(), lda,
            b.Select(x => (double)x).ToArray(), ldb, beta, c.Select(x => (double)x).ToArray(), ldc, out var scale);

        WithPath(path, () => GemmKernel.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
        Check(c.Select(x => (double)x).ToArray(), expected, scale, ldc, m, n, 2e-6, pad);
    }

    private static void RunDouble(int m, int n, int k, bool ta, bool tb, double alpha, double beta, int pad, Path path, bool nanC)
    {
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        int aRows = ta ? k : m, bRows = tb ? n : k;
        var a = Fill(Math.Max(0, (aRows - 1) * lda + (ta ? m : k)), m * 7 + k).Select(x => x + 1e-9 * x * x).ToArray();
        var b = Fill(Math.Max(0, (bRows - 1) * ldb + (tb ? k : n)), n * 5 + k).Select(x => (double)x).ToArray();
        var c = Fill((m - 1) * ldc + n, m + n + 1).Select(x => (double)x).ToArray();
        if (nanC) Array.Fill(c, double.NaN);
        var expected = Reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, (double[])c.Clone(), ldc, out var scale);

        WithPath(path, () => GemmKernel.Dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
        Check(c, expected, scale, ldc, m, n, 1e-13, pad);
    }

    private static void WithPath(Path path, Action action)
    {
        int threads = GemmKernel.MaxThreads;
        long small = GemmKernel.SmallThreshold, perThread = GemmKernel.MinWorkPerThread, perTask = GemmKernel.MinWorkPerTask;
        var blocks = (GemmKernel.MCf, GemmKernel.KCf, GemmKernel.NCf, GemmKernel.MCd, GemmKernel.KCd, GemmKernel.NCd);
        var blocks512 = (GemmKernel.MCf512, GemmKernel.KCf512, GemmKernel.NCf512, GemmKernel.MCd512, GemmKernel.KCd512, GemmKernel.NCd512);
        try
        {
            switch (path)
            {
                case Path.Small:
                    GemmKernel.SmallThreshold = long.MaxValue;
                    break;
                case Path.Packed:
                    GemmKernel.SmallThreshold = 0;
                    GemmKernel.MaxThreads = 1;
                    break;
                case Path.Threaded:
                    GemmKernel.SmallThreshold = 0;
                    GemmKernel.MinWorkPerThread = 1;
                    GemmKernel.MinWorkPerTask = 1;
                    GemmKernel.MaxThreads = 4;
                    break;
                case Path.Portable:
                    GemmKernel.SmallThreshold = 0;
                    GemmKernel.ForcePortable = true;
                    GemmKernel.MinWorkPerThread = 1;
                    GemmKernel.MinWorkPerTask = 1;
                    GemmKernel.MaxThreads = 2;
                    break;
                case Path.TinyBlocks:
                    GemmKernel.SmallThreshold = 0;
                    GemmKernel.MaxThreads = 1;
                    // Deliberately not multiples of the 6×16 / 6×8 register tiles.
                    (GemmKernel.MCf, GemmKernel.KCf, GemmKernel.NCf) = (13, 7, 37);
                    (GemmKernel.MCd, GemmKernel.KCd, GemmKernel.NCd) = (7, 5, 19);
                    (GemmKernel.MCf512, GemmKernel.KCf512, GemmKernel.NCf512) = (25, 7, 70);
                    (GemmKernel.MCd512, GemmKernel.KCd512, GemmKernel.NCd512) = (13, 5, 37);
                    break;
                case Path.Avx2:
                    GemmKernel.SmallThreshold = 0;
                    GemmKernel.ForceKernel = GemmKernelKind.Avx2;
                    GemmKernel.MinWorkPerThread = 1;
                    GemmKernel.MinWorkPerTask = 1;
                    GemmKernel.MaxThreads = 2;
                    break;
            }
            action();
        }
        finally
        {
            GemmKernel.MaxThreads = threads;
            GemmKernel.SmallThreshold = small;
            GemmKernel.MinWorkPerThread = perThread;
            GemmKernel.MinWorkPerTask = perTask;
            GemmKernel.ForcePortable = false;
            GemmKernel.ForceKernel = null;
            (GemmKernel.MCf, GemmKernel.KCf, GemmKernel.NCf, GemmKernel.MCd, GemmKernel.KCd, GemmKernel.NCd) = blocks;
            (GemmKernel.MCf512, GemmKernel.KCf512, GemmKernel.NCf512, GemmKernel.MCd512, GemmKernel.KCd512, GemmKernel.NCd512) = blocks512;
        }
    }

    private static double[] Reference(bool ta, bool tb, int m, int n, int k, double alpha, double[] a, int lda,
        double[] b, int ldb, double beta, double[] c, int ldc, out double[] scale)
    {
        // Gather op(A) as m×k and op(B)ᵀ as n×k so every dot product runs over contiguous rows.
        var opA = new double[m * k];
        var opBt = new double[n * k];
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++) opA[i * k + p] = ta ? a[p * lda + i] : a[i * lda + p];
        for (int j = 0; j < n; j++)
            for (int p = 0; p < k; p++) opBt[j * k + p] = tb ? b[j * ldb + p] : b[p * ldb + j];

        scale = new double[c.Length];
        for (int i = 0; i < m; i++)
        {
            var x = opA.AsSpan(i * k, k);
            for (int j = 0; j < n; j++)
            {
                var y = opBt.AsSpan(j * k, k);
                double sum = 0, mag = 0;
                for (int p = 0; p < x.Length; p++)
                {
                    double prod = x[p] * y[p];
                    sum += prod;
                    mag += Math.Abs(prod);
                }
                double old = beta == 0 ? 0 : c[i * ldc + j];
                c[i * ldc + j] = alpha * sum + beta * old;
                scale[i * ldc + j] = Math.Abs(alpha) * mag + Math.Abs(beta * old) + 1e-30;
            }
        }
        return c;
    }

    private static void Check(double[] actual, double[] expected, double[] scale, int ldc, int m, int n, double relTol, int pad)
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                int idx = i * ldc + j;
                double err = Math.Abs(actual[idx] - expected[idx]);
                Assert.True(err <= relTol * scale[idx] * 8 + 1e-30,
                    $"C[{i},{j}] = {actual[idx]}, expected {expected[idx]} (err {err:E2}, scale {scale[idx]:E2})");
            }
            // Padding between rows must be untouched.
            for (int j = n; j < n + pad && i < m - 1; j++)
                Assert.Equal(expected[i * ldc + j], actual[i * ldc + j]);
        }
    }

    private static float[] Fill(int length, int seed)
    {
        var rng = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }
}
