using Tessera.Kernels;
using Xunit;

namespace Tessera.Tests.Kernels;

/// <summary>
/// The few-rows product path (<see cref="GemvKernel"/>, taken by MatMul for ≤ 4 rows) against a double-precision
/// reference, with B transposed (Gemm transB weights) and row-major, widths that are not multiples of its column
/// slice, and padded leading dimensions; and MatMul on both sides of the 4-row switch against the same reference.
/// </summary>
public class GemvKernelTests
{
    private static double[] Random(int count, int seed)
    {
        var rng = new Random(seed);
        var a = new double[count];
        for (int i = 0; i < count; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    [Theory]
    [InlineData(1, 1000, 1280, true)]
    [InlineData(1, 1000, 1280, false)]
    [InlineData(4, 257, 33, true)]
    [InlineData(3, 257, 33, false)]
    [InlineData(2, 1, 4096, true)]
    [InlineData(2, 700, 1, false)]
    public unsafe void Matches_reference(int m, int n, int k, bool transB)
    {
        int ldx = k + 3, ldb = (transB ? k : n) + 5, ldy = n + 2;
        var x = Random(m * ldx, 1);
        var b = Random((transB ? n : k) * ldb, 2);
        var yd = new double[m * ldy];
        var yf = new float[m * ldy];
        Array.Fill(yf, 12345f);
        var xf = Array.ConvertAll(x, v => (float)v);
        var bf = Array.ConvertAll(b, v => (float)v);
        fixed (double* px = x, pb = b, py = yd)
            GemvKernel.Run(m, n, k, px, ldx, transB, pb, ldb, py, ldy);
        fixed (float* px = xf, pb = bf, py = yf)
            GemvKernel.Run(m, n, k, px, ldx, transB, pb, ldb, py, ldy);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < ldy; j++)
            {
                if (j >= n) { Assert.Equal(12345f, yf[i * ldy + j]); continue; }   // padding untouched
                double s = 0, mag = 0;
                for (int kk = 0; kk < k; kk++)
                {
                    double t = x[i * ldx + kk] * (transB ? b[j * ldb + kk] : b[kk * ldb + j]);
                    s += t;
                    mag += Math.Abs(t);
                }
                // Float rounding grows with the terms summed, not with the (cancelling) result.
                Assert.True(Math.Abs(yd[i * ldy + j] - s) <= 1e-13 * (1 + mag), $"double [{i},{j}]");
                Assert.True(Math.Abs(yf[i * ldy + j] - s) <= 4e-7 * (1 + mag), $"float [{i},{j}]: {yf[i * ldy + j]} vs {s}");
            }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(5)]
    public void MatMul_of_a_transposed_weight_matches_reference_either_side_of_the_switch(int rows)
    {
        int k = 640, n = 300;
        var x = Tensor.RandomNormal(1, DType.Float32, 0, 1, rows, k);
        var w = Tensor.RandomNormal(2, DType.Float32, 0, 1, n, k);
        var y = Tensor.Empty(DType.Float32, rows, n);
        MatMulKernel.Run<float>(x, w.Permute(1, 0), y);
        var xs = x.ToArray<float>(); var ws = w.ToArray<float>(); var ys = y.ToArray<float>();
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0, mag = 0;
                for (int kk = 0; kk < k; kk++)
                {
                    double t = (double)xs[i * k + kk] * ws[j * k + kk];
                    s += t;
                    mag += Math.Abs(t);
                }
                Assert.True(Math.Abs(ys[i * n + j] - s) <= 4e-7 * (1 + mag), $"[{i},{j}]: {ys[i * n + j]} vs {s}");
            }
    }
}
