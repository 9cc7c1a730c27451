using Tessera.Kernels;
using Xunit;

namespace Tessera.Tests.Kernels;

/// <summary>
/// The phase-plane depthwise forward (<c>Conv2dKernel.DepthwiseForward.cs</c>) at each vector width it can take
/// (AVX-512, 256-bit, scalar), against a double-precision scalar reference and against the row-by-row kernel it
/// replaced, on shapes that exercise its edges: odd channel counts, planes narrower than a vector, asymmetric
/// padding, strides 2 and 3 (the deinterleaving and the generic phase fill), dilation, channel multipliers.
/// </summary>
public class Conv2dDepthwiseForwardTests
{
    private static readonly Dictionary<string, Conv2dGeometry> Cases = new()
    {
        ["3x3 pad1 17 channels 7x7"] = new(N: 2, C: 17, H: 7, W: 7, K: 17, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 17),
        ["3x3 pad1 stride2 odd plane"] = new(N: 1, C: 5, H: 29, W: 31, K: 5, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 5),
        ["3x3 stride2 wide rows (vector deinterleave)"] = new(N: 1, C: 3, H: 12, W: 70, K: 3, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 3),
        ["3x3 stride2 no padding even plane"] = new(N: 2, C: 4, H: 14, W: 14, K: 4, R: 3, S: 3, StrideH: 2, StrideW: 2, Groups: 4),
        ["5x5 pad2 stride1 large plane"] = new(N: 1, C: 3, H: 40, W: 37, K: 3, R: 5, S: 5, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2, Groups: 3),
        ["dilation2 asymmetric pad"] = new(N: 2, C: 3, H: 11, W: 13, K: 3, R: 3, S: 3, PadTop: 2, PadLeft: 1, PadBottom: 0, PadRight: 2, DilationH: 2, DilationW: 2, Groups: 3),
        ["stride (1,2) dilation (2,1)"] = new(N: 1, C: 3, H: 8, W: 9, K: 3, R: 3, S: 2, StrideH: 1, StrideW: 2, PadTop: 1, PadLeft: 0, PadBottom: 0, PadRight: 1, DilationH: 2, DilationW: 1, Groups: 3),
        ["stride 3 multiplier 2"] = new(N: 2, C: 3, H: 17, W: 19, K: 6, R: 3, S: 3, StrideH: 3, StrideW: 3, PadTop: 1, PadLeft: 2, PadBottom: 1, PadRight: 0, Groups: 3),
        ["multiplier 3 stride2"] = new(N: 1, C: 2, H: 10, W: 9, K: 6, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 2),
        ["1x1 window 1-pixel plane"] = new(N: 3, C: 4, H: 1, W: 1, K: 4, R: 1, S: 1, Groups: 4),
        ["3x3 pad1 2x2 plane"] = new(N: 1, C: 33, H: 2, W: 2, K: 33, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 33),
        ["parallel sized 112 plane stride2"] = new(N: 1, C: 6, H: 112, W: 112, K: 6, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 6),
    };

    public static TheoryData<string, int> CasesAndWidths()
    {
        var data = new TheoryData<string, int>();
        foreach (var name in Cases.Keys)
            foreach (int bits in new[] { 512, 256, 0 })
                data.Add(name, bits);
        return data;
    }

    private static double[] RefForward(Conv2dGeometry g, double[] x, double[] w, double[] bias, double[] residual, ConvEpilogue ep)
    {
        int mult = g.K / g.C, p = g.OutH * g.OutW;
        var y = new double[g.N * g.K * p];
        for (int n = 0; n < g.N; n++)
            for (int k = 0; k < g.K; k++)
                for (int oh = 0; oh < g.OutH; oh++)
                    for (int ow = 0; ow < g.OutW; ow++)
                    {
                        double s = bias[k];
                        for (int r = 0; r < g.R; r++)
                            for (int q = 0; q < g.S; q++)
                            {
                                int ih = oh * g.StrideH - g.PadTop + r * g.DilationH, iw = ow * g.StrideW - g.PadLeft + q * g.DilationW;
                                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                                s += x[((n * g.C + k / mult) * g.H + ih) * g.W + iw] * w[(k * g.R + r) * g.S + q];
                            }
                        int at = ((n * g.K + k) * g.OutH + oh) * g.OutW + ow;
                        if (residual.Length > 0) s += residual[at];
                        if (ep.Activation == ConvActivation.Relu) s = Math.Max(s, 0);
                        if (ep.Activation == ConvActivation.Clip) s = Math.Min(Math.Max(s, ep.ClipMin), ep.ClipMax);
                        y[at] = s;
                    }
        return y;
    }

    private static double[] Random(int count, int seed)
    {
        var rng = new Random(seed);
        var a = new double[count];
        for (int i = 0; i < count; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    [Theory]
    [MemberData(nameof(CasesAndWidths))]
    public void Phase_plane_kernel_matches_reference_and_row_kernel(string name, int bits)
    {
        var g = Cases[name];
        int yLen = g.N * g.K * g.OutH * g.OutW;
        var x = Random(g.N * g.C * g.H * g.W, 1);
        var w = Random(g.K * g.R * g.S, 2);
        var bias = Random(g.K, 3);
        var residual = Random(yLen, 4);
        int saved = Conv2dKernel.DepthwiseVectorBits;
        try
        {
            Conv2dKernel.DepthwiseVectorBits = bits;
            foreach (var (ep, withResidual) in new[] { (ConvEpilogue.None, false), (ConvEpilogue.Clip(0, 0.75), false), (ConvEpilogue.Relu, true) })
            {
                var res = withResidual ? residual : [];
                var expected = RefForward(g, x, w, bias, res, ep);
                var yd = Filled(yLen, double.NaN);
                Conv2dKernel.Forward<double>(g, x, w, bias, res, ep, yd);
                AssertClose(expected, yd, 1e-12, $"double {ep.Activation}");

                var yf = new float[yLen];
                Array.Fill(yf, float.NaN);
                Conv2dKernel.Forward<float>(g, F(x), F(w), F(bias), F(res), ep, yf);
                AssertClose(expected, Array.ConvertAll(yf, v => (double)v), 1e-5, $"float {ep.Activation}");

                // The previous kernel adds the same taps in the same order; only skipped padding taps differ (+0).
                var rows = new float[yLen];
                Conv2dKernel.DepthwiseForwardByRows<float>(g, F(x), F(w), F(bias), F(res), ep, rows);
                for (int i = 0; i < yLen; i++)
                    Assert.True(Math.Abs(rows[i] - yf[i]) <= 1e-6f * (1 + Math.Abs(rows[i])), $"row kernel [{i}]: {rows[i]} vs {yf[i]}");
            }
        }
        finally { Conv2dKernel.DepthwiseVectorBits = saved; }
    }

    [Fact]
    public void Clip_epilogue_keeps_NaN_like_the_separate_ops()
    {
        var g = new Conv2dGeometry(N: 1, C: 2, H: 3, W: 3, K: 2, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 2);
        var x = new float[18];
        x[4] = float.NaN;   // centre of plane 0: every output of plane 0 sees it
        var w = Enumerable.Repeat(1f, 18).ToArray();
        var y = new float[18];
        Conv2dKernel.Forward<float>(g, x, w, [0.5f, 9f], [], ConvEpilogue.Clip(0, 6), y);
        Assert.All(y[..9], v => Assert.True(float.IsNaN(v)));
        Assert.All(y[9..], v => Assert.Equal(6f, v));
    }

    private static double[] Filled(int n, double v) { var a = new double[n]; Array.Fill(a, v); return a; }

    private static float[] F(double[] a) => Array.ConvertAll(a, v => (float)v);

    private static void AssertClose(double[] expected, double[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (!(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i]))))
                Assert.Fail($"{what}: element {i}: expected {expected[i]}, got {actual[i]}");
    }
}
