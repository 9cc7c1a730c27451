using Tessera.Kernels;
using Xunit;

namespace Tessera.Tests.Kernels;

/// <summary>
/// The register-blocked 1×1 kernel (<c>Conv2dKernel.Pointwise.cs</c>, float on AVX-512) and the GEMM path it
/// replaces for those shapes, both against a double-precision reference with every epilogue: channel counts that
/// leave 1–7 rows after the 8-row tiles, planes that are not a multiple of the 48-pixel tile (the shifted last tile),
/// exactly one tile, groups, several images, planes large enough to split over threads, and the depth limit.
/// </summary>
public class Conv2dPointwiseKernelTests
{
    private static readonly Dictionary<string, Conv2dGeometry> Cases = new()
    {
        ["13 out 5 in 7x7"] = new(N: 1, C: 5, H: 7, W: 7, K: 13, R: 1, S: 1),
        ["one tile 6x8"] = new(N: 2, C: 16, H: 6, W: 8, K: 8, R: 1, S: 1),
        ["10x11 plane 3 images"] = new(N: 3, C: 17, H: 10, W: 11, K: 23, R: 1, S: 1),
        ["groups 2"] = new(N: 2, C: 12, H: 9, W: 9, K: 18, R: 1, S: 1, Groups: 2),
        ["parallel 56x56"] = new(N: 1, C: 24, H: 56, W: 56, K: 36, R: 1, S: 1),
        ["large plane 3 channels"] = new(N: 2, C: 3, H: 33, W: 32, K: 4, R: 1, S: 1),
        ["depth at the limit"] = new(N: 1, C: 160, H: 14, W: 14, K: 9, R: 1, S: 1),
        ["deeper than the limit (GEMM)"] = new(N: 1, C: 161, H: 14, W: 14, K: 9, R: 1, S: 1),
        ["plane below one tile (GEMM)"] = new(N: 4, C: 8, H: 6, W: 7, K: 10, R: 1, S: 1),
    };

    public static TheoryData<string, bool> CasesAndPaths()
    {
        var data = new TheoryData<string, bool>();
        foreach (var name in Cases.Keys)
        {
            data.Add(name, true);
            data.Add(name, false);
        }
        return data;
    }

    private static double[] Random(int count, int seed, double scale = 1)
    {
        var rng = new Random(seed);
        var a = new double[count];
        for (int i = 0; i < count; i++) a[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return a;
    }

    [Theory]
    [MemberData(nameof(CasesAndPaths))]
    public void Matches_reference_with_every_epilogue(string name, bool kernel)
    {
        var g = Cases[name];
        int p = g.H * g.W, cg = g.C / g.Groups, kg = g.K / g.Groups, yLen = g.N * g.K * p;
        var x = Random(g.N * g.C * p, 1);
        var w = Random(g.K * cg, 2, 0.5);
        var bias = Random(g.K, 3);
        var residual = Random(yLen, 4);
        var conv = new double[yLen];
        for (int n = 0; n < g.N; n++)
            for (int k = 0; k < g.K; k++)
                for (int j = 0; j < p; j++)
                {
                    double s = 0;
                    for (int c = 0; c < cg; c++) s += w[k * cg + c] * x[(n * g.C + k / kg * cg + c) * p + j];
                    conv[(n * g.K + k) * p + j] = s;
                }
        bool saved = Conv2dKernel.PointwiseKernelEnabled;
        try
        {
            Conv2dKernel.PointwiseKernelEnabled = kernel;
            foreach (var (ep, withBias, withResidual) in new[]
            {
                (ConvEpilogue.None, false, false), (ConvEpilogue.None, true, false), (ConvEpilogue.Relu, true, true),
                (ConvEpilogue.Clip(-0.5, 0.75), true, false), (ConvEpilogue.Clip(0, 6), false, true),
            })
            {
                var expected = new double[yLen];
                for (int i = 0; i < yLen; i++)
                {
                    double v = conv[i] + (withBias ? bias[i / p % g.K] : 0) + (withResidual ? residual[i] : 0);
                    if (ep.Activation == ConvActivation.Relu) v = Math.Max(v, 0);
                    if (ep.Activation == ConvActivation.Clip) v = Math.Min(Math.Max(v, ep.ClipMin), ep.ClipMax);
                    expected[i] = v;
                }
                var y = new float[yLen];
                Array.Fill(y, float.NaN);
                Conv2dKernel.Forward<float>(g, F(x), F(w), withBias ? F(bias) : [], withResidual ? F(residual) : [], ep, y);
                for (int i = 0; i < yLen; i++)
                    if (!(Math.Abs(expected[i] - y[i]) <= 1e-5 * (1 + Math.Abs(expected[i]))))
                        Assert.Fail($"{ep.Activation} bias {withBias} residual {withResidual}: [{i}] expected {expected[i]}, got {y[i]}");
            }
        }
        finally { Conv2dKernel.PointwiseKernelEnabled = saved; }
    }

    /// <summary>
    /// The kernel's in-register epilogue is bit-for-bit the separate ops (bias in the convolution, then TensorPrimitives
    /// Add / Max / Min as the Add, Relu and Clip ops run them), including NaN propagation and signed zeros.
    /// </summary>
    [Fact]
    public void In_register_epilogue_equals_conv_then_separate_ops_bitwise()
    {
        var g = new Conv2dGeometry(N: 1, C: 9, H: 10, W: 10, K: 11, R: 1, S: 1);
        int p = 100, yLen = g.K * p;
        var x = F(Random(g.C * p, 5));
        x[3] = float.NaN;
        x[p + 7] = float.PositiveInfinity;
        var w = F(Random(g.K * g.C, 6));
        var bias = F(Random(g.K, 7));
        bias[2] = -0f;
        var residual = F(Random(yLen, 8));
        var plain = new float[yLen];
        Conv2dKernel.Forward<float>(g, x, w, bias, plain);
        foreach (var ep in new[] { ConvEpilogue.Relu, ConvEpilogue.Clip(0, 6), ConvEpilogue.Clip(-0.25, 0.5) })
        {
            var expected = (float[])plain.Clone();
            System.Numerics.Tensors.TensorPrimitives.Add(expected, residual, expected);
            if (ep.Activation == ConvActivation.Relu) System.Numerics.Tensors.TensorPrimitives.Max(expected, 0f, expected);
            else
            {
                System.Numerics.Tensors.TensorPrimitives.Max(expected, (float)ep.ClipMin, expected);
                System.Numerics.Tensors.TensorPrimitives.Min(expected, (float)ep.ClipMax, expected);
            }
            var fused = new float[yLen];
            Conv2dKernel.Forward<float>(g, x, w, bias, residual, ep, fused);
            Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), fused.Select(BitConverter.SingleToInt32Bits));
        }
        Assert.Contains(plain, float.IsNaN);
    }

    private static float[] F(double[] a) => Array.ConvertAll(a, v => (float)v);
}
