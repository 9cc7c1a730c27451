using Tessera.Kernels;
using Xunit;

namespace Tessera.Tests.Kernels;

/// <summary>
/// The forward convolution with a fused epilogue, y = act(conv + bias + residual), against a double-precision
/// scalar reference, on every forward path: column blocks (one image at a time, blocks splitting output rows),
/// direct pointwise, several images per GEMM, grouped and depthwise.
/// </summary>
public class Conv2dEpilogueTests
{
    private static readonly Dictionary<string, Conv2dGeometry> Cases = new()
    {
        // 16×17 = 272 output pixels: with 128-pixel blocks, three blocks, each ending mid-row.
        ["3x3 pad1 column blocks"] = new(N: 2, C: 3, H: 16, W: 17, K: 5, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        ["7x7 stride2 pad3"] = new(N: 1, C: 3, H: 29, W: 31, K: 4, R: 7, S: 7, StrideH: 2, StrideW: 2, PadTop: 3, PadLeft: 3, PadBottom: 3, PadRight: 3),
        ["1x1 stride2"] = new(N: 1, C: 4, H: 30, W: 30, K: 6, R: 1, S: 1, StrideH: 2, StrideW: 2),
        ["1x1 direct large plane"] = new(N: 2, C: 3, H: 33, W: 32, K: 4, R: 1, S: 1),
        ["1x1 small planes batched"] = new(N: 3, C: 5, H: 4, W: 6, K: 7, R: 1, S: 1),
        ["3x3 small planes batched"] = new(N: 3, C: 4, H: 5, W: 5, K: 3, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        ["groups2"] = new(N: 2, C: 4, H: 13, W: 12, K: 6, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 2),
        ["depthwise stride2"] = new(N: 2, C: 4, H: 9, W: 8, K: 4, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 4),
        ["depthwise"] = new(N: 1, C: 3, H: 12, W: 11, K: 3, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 3),
    };

    public static TheoryData<string, string> CasesAndEpilogues()
    {
        var data = new TheoryData<string, string>();
        foreach (var name in Cases.Keys)
            foreach (var e in new[] { "bias+residual", "relu", "bias+residual+relu", "clip", "residual+clip" })
                data.Add(name, e);
        return data;
    }

    private static double[] RefForward(Conv2dGeometry g, double[] x, double[] w)
    {
        int cg = g.C / g.Groups, kg = g.K / g.Groups;
        var y = new double[g.N * g.K * g.OutH * g.OutW];
        for (int n = 0; n < g.N; n++)
            for (int k = 0; k < g.K; k++)
                for (int oh = 0; oh < g.OutH; oh++)
                    for (int ow = 0; ow < g.OutW; ow++)
                    {
                        double s = 0;
                        for (int cl = 0; cl < cg; cl++)
                            for (int r = 0; r < g.R; r++)
                                for (int q = 0; q < g.S; q++)
                                {
                                    int ih = oh * g.StrideH - g.PadTop + r * g.DilationH, iw = ow * g.StrideW - g.PadLeft + q * g.DilationW;
                                    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                                    int c = k / kg * cg + cl;
                                    s += x[((n * g.C + c) * g.H + ih) * g.W + iw] * w[((k * cg + cl) * g.R + r) * g.S + q];
                                }
                        y[((n * g.K + k) * g.OutH + oh) * g.OutW + ow] = s;
                    }
        return y;
    }

    private static double[] Random(int count, int seed, double scale = 1)
    {
        var rng = new Random(seed);
        var a = new double[count];
        for (int i = 0; i < count; i++) a[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        return a;
    }

    [Theory]
    [MemberData(nameof(CasesAndEpilogues))]
    public void Forward_with_epilogue_matches_conv_then_separate_ops(string name, string epilogueName)
    {
        var g = Cases[name];
        int p = g.OutH * g.OutW, yLen = g.N * g.K * p;
        var x = Random(g.N * g.C * g.H * g.W, 1);
        var w = Random(g.K * (g.C / g.Groups) * g.R * g.S, 2);
        bool hasBias = epilogueName.Contains("bias"), hasResidual = epilogueName.Contains("residual");
        var bias = hasBias ? Random(g.K, 3) : [];
        var residual = hasResidual ? Random(yLen, 4, 2) : [];
        var epilogue = epilogueName.Contains("relu") ? ConvEpilogue.Relu
            : epilogueName.Contains("clip") ? ConvEpilogue.Clip(-0.25, 0.5) : ConvEpilogue.None;

        var expected = RefForward(g, x, w);
        for (int i = 0; i < yLen; i++)
        {
            double v = expected[i] + (hasBias ? bias[i / p % g.K] : 0) + (hasResidual ? residual[i] : 0);
            if (epilogue.Activation == ConvActivation.Relu) v = Math.Max(v, 0);
            if (epilogue.Activation == ConvActivation.Clip) v = Math.Min(Math.Max(v, -0.25), 0.5);
            expected[i] = v;
        }

        long saved = Conv2dKernel.ColBlockElements;
        try
        {
            foreach (long block in new[] { saved, 1L })   // 1 → the narrowest blocks (128 pixels)
            {
                Conv2dKernel.ColBlockElements = block;
                var y = new double[yLen];
                Array.Fill(y, double.NaN);
                Conv2dKernel.Forward<double>(g, x, w, bias, residual, epilogue, y);
                AssertClose(expected, y, 1e-12, $"double, block {block}");

                var yf = new float[yLen];
                Array.Fill(yf, float.NaN);
                Conv2dKernel.Forward<float>(g, ToF(x), ToF(w), ToF(bias), ToF(residual), epilogue, yf);
                AssertClose(expected, Array.ConvertAll(yf, v => (double)v), 1e-5, $"float, block {block}");
            }
        }
        finally { Conv2dKernel.ColBlockElements = saved; }
    }

    [Fact]
    public void Relu_epilogue_keeps_NaN_like_the_Relu_op()
    {
        var g = new Conv2dGeometry(N: 1, C: 1, H: 3, W: 3, K: 1, R: 1, S: 1);
        float[] x = [1, float.NaN, -2, 3, -4, 5, -6, 7, -8];
        var y = new float[9];
        Conv2dKernel.Forward<float>(g, x, [1f], [], [], ConvEpilogue.Relu, y);
        Assert.Equal([1f, float.NaN, 0f, 3f, 0f, 5f, 0f, 7f, 0f], y);
    }

    private static float[] ToF(double[] a) => Array.ConvertAll(a, v => (float)v);

    private static void AssertClose(double[] expected, double[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            if (!(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i]))))
                Assert.Fail($"{what}: element {i}: expected {expected[i]}, got {actual[i]}");
    }

    public static TheoryData<string> PackedCases() => new()
    {
        "3x3 large", "3x3 small planes", "groups 2", "1x1 direct", "stride 2",
    };

    private static Conv2dGeometry PackedGeometry(string name) => name switch
    {
        "3x3 large" => new(N: 2, C: 16, H: 20, W: 20, K: 32, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        "3x3 small planes" => new(N: 8, C: 24, H: 6, W: 6, K: 40, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        "groups 2" => new(N: 1, C: 32, H: 18, W: 18, K: 30, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 2),
        "1x1 direct" => new(N: 1, C: 48, H: 40, W: 40, K: 20, R: 1, S: 1),
        _ => new(N: 2, C: 8, H: 33, W: 31, K: 24, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
    };

    /// <summary>
    /// Pre-packed weights (constant weights at inference) give bit-for-bit the output of the unpacked call, on shapes
    /// large enough to take the packed GEMM, and match the double-precision reference.
    /// </summary>
    [Theory]
    [MemberData(nameof(PackedCases))]
    public void Packed_weights_give_the_unpacked_result_exactly(string name)
    {
        var g = PackedGeometry(name);
        var xd = Random(g.N * g.C * g.H * g.W, 11);
        var wd = Random(g.K * (g.C / g.Groups) * g.R * g.S, 12, 0.2);
        var x = Array.ConvertAll(xd, v => (float)v);
        var w = Array.ConvertAll(wd, v => (float)v);
        var bias = Array.ConvertAll(Random(g.K, 13), v => (float)v);
        int outLen = g.N * g.K * g.OutH * g.OutW;
        var plain = new float[outLen];
        var packedOut = new float[outLen];
        Conv2dKernel.Forward<float>(g, x, w, bias, default, ConvEpilogue.Relu, plain);
        var packed = Conv2dKernel.PackWeights<float>(g, w);
        Assert.NotNull(packed);
        Assert.Equal(g.Groups, packed!.Length);
        Conv2dKernel.Forward<float>(g, x, w, bias, default, ConvEpilogue.Relu, packedOut, packed);
        Assert.Equal(plain, packedOut);

        var reference = RefForward(g, xd.Select(v => (double)(float)v).ToArray(), wd.Select(v => (double)(float)v).ToArray());
        for (int i = 0; i < outLen; i++)
        {
            int k = i / (g.OutH * g.OutW) % g.K;
            double expected = Math.Max(0, reference[i] + bias[k]);
            Assert.True(Math.Abs(packedOut[i] - expected) <= 1e-4 * (1 + Math.Abs(expected)), $"{name} [{i}]: {packedOut[i]} vs {expected}");
        }
    }

    [Fact]
    public void Depthwise_weights_are_not_packed() =>
        Assert.Null(Conv2dKernel.PackWeights<float>(Cases["depthwise"], new float[3 * 9]));
}
