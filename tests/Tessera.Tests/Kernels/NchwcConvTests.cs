using Tessera.Kernels;
using Xunit;

namespace Tessera.Tests.Kernels;

/// <summary>
/// The direct channel-blocked convolution against a double-precision scalar reference: channel counts that are and
/// are not multiples of 16, plain-NCHW (few channels) and blocked input, padding on every side (asymmetric too),
/// stride, dilation, windows larger than the input, several filter groups with a partial last one, several passes
/// over the input channel blocks, and every epilogue. Runs on any CPU (Vector512 falls back to software).
/// </summary>
public class NchwcConvTests
{
    private static readonly Dictionary<string, Conv2dGeometry> Cases = new()
    {
        ["rgb 7x7 stride2 pad3 (plain input)"] = new(N: 1, C: 3, H: 29, W: 31, K: 20, R: 7, S: 7, StrideH: 2, StrideW: 2, PadTop: 3, PadLeft: 3, PadBottom: 3, PadRight: 3),
        ["3x3 pad1 odd channels"] = new(N: 2, C: 5, H: 16, W: 17, K: 5, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        ["3x3 pad1 blocked 33->70"] = new(N: 1, C: 33, H: 9, W: 14, K: 70, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        ["3x3 stride2 16->96"] = new(N: 2, C: 16, H: 15, W: 13, K: 96, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        ["3x3 7x7 map, 160 channels (two passes over the blocks)"] = new(N: 1, C: 160, H: 7, W: 7, K: 64, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        ["asymmetric pad, dilation 2"] = new(N: 1, C: 17, H: 12, W: 11, K: 18, R: 3, S: 3, PadTop: 0, PadLeft: 2, PadBottom: 3, PadRight: 1, DilationH: 2, DilationW: 2),
        ["window wider than input"] = new(N: 1, C: 6, H: 3, W: 2, K: 16, R: 5, S: 5, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2),
        ["1x1 stride2"] = new(N: 1, C: 24, H: 10, W: 10, K: 40, R: 1, S: 1, StrideH: 2, StrideW: 2),
        ["no padding 2x4 kernel"] = new(N: 2, C: 19, H: 8, W: 19, K: 33, R: 2, S: 4),
        // 1×1 stride 1 unpadded: the plane is walked as one row (tiles across row ends), split into column jobs.
        ["1x1 flat plane"] = new(N: 1, C: 40, H: 9, W: 11, K: 24, R: 1, S: 1),
        ["1x1 flat plane, two images"] = new(N: 2, C: 3, H: 13, W: 13, K: 80, R: 1, S: 1),
        // Few rows and one filter group: the rows are also split into column jobs (edges inside their range).
        // ≤ 64 output pixels per job: one input block per pass (L1-sized chunks), each pass prefetching the next;
        // a partial filter group (3 blocks), stride 2 and an odd map.
        ["3x3 stride2 5x5 map, 70->40, one block per pass"] = new(N: 2, C: 70, H: 9, W: 10, K: 40, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        // Four filter groups (the last partial) on one image: NchwcSplit.Filters splits it into whole-plane jobs.
        ["3x3 11x13 map 24->200 (four filter groups)"] = new(N: 1, C: 24, H: 11, W: 13, K: 200, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        ["3x3 three long rows"] = new(N: 1, C: 16, H: 3, W: 61, K: 16, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
    };

    public static TheoryData<string, string> CasesAndEpilogues()
    {
        var data = new TheoryData<string, string>();
        foreach (var name in Cases.Keys)
            foreach (var e in new[] { "none", "bias+residual+relu", "bias+clip" })
                data.Add(name, e);
        return data;
    }

    private static double[] Reference(Conv2dGeometry g, float[] x, float[] w, float[]? bias, float[]? residual, ConvEpilogue ep)
    {
        var y = new double[g.N * g.K * g.OutH * g.OutW];
        for (int n = 0; n < g.N; n++)
            for (int k = 0; k < g.K; k++)
                for (int oh = 0; oh < g.OutH; oh++)
                    for (int ow = 0; ow < g.OutW; ow++)
                    {
                        double s = bias?[k] ?? 0;
                        for (int c = 0; c < g.C; c++)
                            for (int r = 0; r < g.R; r++)
                                for (int q = 0; q < g.S; q++)
                                {
                                    int ih = oh * g.StrideH - g.PadTop + r * g.DilationH, iw = ow * g.StrideW - g.PadLeft + q * g.DilationW;
                                    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                                    s += (double)x[((n * g.C + c) * g.H + ih) * g.W + iw] * w[((k * g.C + c) * g.R + r) * g.S + q];
                                }
                        int at = ((n * g.K + k) * g.OutH + oh) * g.OutW + ow;
                        if (residual != null) s += residual[at];
                        if (ep.Activation == ConvActivation.Relu) s = Math.Max(s, 0);
                        if (ep.Activation == ConvActivation.Clip) s = Math.Min(Math.Max(s, ep.ClipMin), ep.ClipMax);
                        y[at] = s;
                    }
        return y;
    }

    private static float[] Random(int count, int seed)
    {
        var rng = new Random(seed);
        var a = new float[count];
        for (int i = 0; i < count; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    [Theory]
    [MemberData(nameof(CasesAndEpilogues))]
    public void MatchesTheScalarReference(string name, string epilogue)
    {
        var g = Cases[name];
        var x = Random(g.N * g.C * g.H * g.W, 1);
        var w = Random(g.K * g.C * g.R * g.S, 2);
        int outLen = g.N * g.K * g.OutH * g.OutW;
        float[]? bias = epilogue.Contains("bias") ? Random(g.K, 3) : null;
        float[]? residual = epilogue.Contains("residual") ? Random(outLen, 4) : null;
        var ep = epilogue.Contains("relu") ? ConvEpilogue.Relu : epilogue.Contains("clip") ? ConvEpilogue.Clip(-0.5, 0.75) : ConvEpilogue.None;
        var packed = new NchwcWeights(g.K, g.C, g.R, g.S, w, bias, blockedInput: g.C > NchwcConv.MaxPlainInputChannels);
        var y = new float[outLen];
        Array.Fill(y, float.NaN);   // every output must be written
        NchwcConv.ForwardNchw(g, packed, x, residual, ep, y);
        var expected = Reference(g, x, w, bias, residual, ep);
        for (int i = 0; i < outLen; i++)
            Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-4 * (1 + Math.Abs(expected[i])), $"{name} {epilogue}: y[{i}] = {y[i]}, expected {expected[i]}");
    }

    /// <summary>The AVX2 tiles (what machines without AVX-512 run) on the same cases, forced on this machine.</summary>
    [Theory]
    [MemberData(nameof(CasesAndEpilogues))]
    public void Avx2TilesMatchTheScalarReference(string name, string epilogue)
    {
        Assert.True(System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported,
            "the test machines have AVX2 + FMA");
        bool saved = NchwcConv.UseAvx2Tiles;
        try
        {
            NchwcConv.UseAvx2Tiles = true;
            MatchesTheScalarReference(name, epilogue);
        }
        finally { NchwcConv.UseAvx2Tiles = saved; }
    }

    /// <summary>The jobs split over filter groups only (whole planes per job, where each thread gets two), on the same cases.</summary>
    [Theory]
    [MemberData(nameof(CasesAndEpilogues))]
    public void SplitOverFiltersMatchesTheScalarReference(string name, string epilogue)
    {
        var saved = NchwcConv.Split;
        try
        {
            NchwcConv.Split = NchwcSplit.Filters;
            MatchesTheScalarReference(name, epilogue);
        }
        finally { NchwcConv.Split = saved; }
    }

    [Fact]
    public void PlainAndBlockedInputGiveTheSameResult()
    {
        var g = new Conv2dGeometry(N: 1, C: 3, H: 12, W: 13, K: 32, R: 3, S: 3, StrideH: 2, StrideW: 1, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1);
        var x = Random(g.C * g.H * g.W, 5);
        var w = Random(g.K * g.C * 9, 6);
        var a = new float[g.K * g.OutH * g.OutW];
        var b = new float[a.Length];
        NchwcConv.ForwardNchw(g, new NchwcWeights(g.K, g.C, 3, 3, w, default, blockedInput: false), x, default, ConvEpilogue.None, a);
        NchwcConv.ForwardNchw(g, new NchwcWeights(g.K, g.C, 3, 3, w, default, blockedInput: true), x, default, ConvEpilogue.None, b);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-5f, $"y[{i}]: plain {a[i]}, blocked {b[i]}");
    }

    [Fact]
    public unsafe void ReorderRoundTripsAndZeroesPaddingChannels()
    {
        int n = 2, c = 21, hw = 300;
        var x = Random(n * c * hw, 7);
        var blocked = new float[n * NchwcConv.Blocks(c) * hw * NchwcConv.Block];
        Array.Fill(blocked, float.NaN);
        var back = new float[x.Length];
        fixed (float* px = x, pb = blocked, pk = back)
        {
            NchwcConv.ToBlocked(px, n, c, hw, pb);
            NchwcConv.FromBlocked(pb, n, c, hw, pk);
        }
        Assert.Equal(x, back);
        // image 1, block 1 (channels 16..31), pixel 7: channels 16..20 real, 21..31 zero
        long at = ((1L * 2 + 1) * hw + 7) * 16;
        Assert.Equal(x[(1 * c + 16) * hw + 7], blocked[at]);
        for (int j = 5; j < 16; j++) Assert.Equal(0f, blocked[at + j]);
    }

    [Fact]
    public void MismatchedWeightsNameBothShapes()
    {
        var g = new Conv2dGeometry(N: 1, C: 8, H: 5, W: 5, K: 4, R: 3, S: 3);
        var packed = new NchwcWeights(4, 6, 3, 3, new float[4 * 6 * 9], default, true);
        var ex = Assert.Throws<ArgumentException>(() => NchwcConv.ForwardNchw(g, packed, new float[200], default, ConvEpilogue.None, new float[36]));
        Assert.Contains("[4, 6, 3, 3]", ex.Message);
        Assert.Contains("[4, 8, 3, 3]", ex.Message);
    }
}

/// <summary>The blocked depthwise convolution against the NCHW depthwise kernel (itself tested against a scalar reference).</summary>
public class NchwcDepthwiseTests
{
    public static TheoryData<int, int, int, int, int, int, int> Shapes() => new()
    {
        // C, H, W, R, stride, pad, dilation
        { 32, 14, 13, 3, 1, 1, 1 },
        { 24, 15, 17, 3, 2, 1, 1 },
        { 5, 9, 11, 5, 1, 2, 1 },
        { 40, 12, 12, 3, 1, 2, 2 },
        { 16, 3, 2, 3, 1, 1, 1 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public unsafe void MatchesTheNchwDepthwiseKernel(int c, int h, int w, int r, int stride, int pad, int dilation)
    {
        var g = new Conv2dGeometry(2, c, h, w, c, r, r, stride, stride, pad, pad, pad, pad, dilation, dilation, Groups: c);
        var rng = new Random(c * 31 + h);
        float[] Rand(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1); return a; }
        var x = Rand(g.N * c * h * w);
        var wt = Rand(c * r * r);
        var bias = Rand(c);
        int p = g.OutH * g.OutW;
        var residual = Rand(g.N * c * p);
        var expected = new float[g.N * c * p];
        Conv2dKernel.Forward<float>(g, x, wt, bias, residual, ConvEpilogue.Clip(-0.3, 0.6), expected);

        int cb = NchwcConv.Blocks(c);
        var xb = new float[g.N * cb * h * w * 16];
        var rb = new float[g.N * cb * p * 16];
        var yb = new float[rb.Length];
        var y = new float[expected.Length];
        var packed = new NchwcDepthwiseWeights(c, r, r, wt, bias);
        fixed (float* px = x, pxb = xb, pr = residual, prb = rb, pyb = yb, py = y)
        {
            NchwcConv.ToBlocked(px, g.N, c, h * w, pxb);
            NchwcConv.ToBlocked(pr, g.N, c, p, prb);
            NchwcConv.DepthwiseForward(g, packed, pxb, prb, ConvEpilogue.Clip(-0.3, 0.6), pyb);
            NchwcConv.FromBlocked(pyb, g.N, c, p, py);
        }
        for (int i = 0; i < y.Length; i++)
            Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-5f, $"y[{i}] = {y[i]}, NCHW kernel {expected[i]}");
    }
}

/// <summary>Blocked max, average and global average pooling against the NCHW kernels.</summary>
public class NchwcPoolTests
{
    [Theory]
    [InlineData(20, 13, 11, 3, 2, 0, 0, 1, 1)]   // ceil mode as extra end padding (squeezenet)
    [InlineData(64, 12, 12, 3, 2, 1, 1, 1, 1)]   // resnet stem pool
    [InlineData(5, 7, 9, 2, 2, 0, 0, 0, 0)]
    public unsafe void Max_pool_matches_the_nchw_kernel(int c, int h, int w, int k, int stride, int padTop, int padLeft, int padBottom, int padRight)
    {
        var g = new Conv2dGeometry(2, c, h, w, c, k, k, stride, stride, padTop, padLeft, padBottom, padRight);
        var rng = new Random(c + h);
        var x = new float[2 * c * h * w];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        int p = g.OutH * g.OutW;
        var expected = new float[2 * c * p];
        Pool2dKernel.MaxForward<float>(g, x, expected);
        int cb = NchwcConv.Blocks(c);
        var xb = new float[2 * cb * h * w * 16];
        var yb = new float[2 * cb * p * 16];
        var y = new float[expected.Length];
        fixed (float* px = x, pxb = xb, pyb = yb, py = y)
        {
            NchwcConv.ToBlocked(px, 2, c, h * w, pxb);
            NchwcPool.MaxForward(g, pxb, pyb);
            NchwcConv.FromBlocked(pyb, 2, c, p, py);
        }
        Assert.Equal(expected, y);
    }

    [Theory]
    [InlineData(40, 8, 8, 2, 2, 0, 0, 0, 0, false)]   // densenet's transition pool
    [InlineData(20, 13, 11, 3, 2, 1, 1, 2, 2, false)]  // padding and ceil-mode overhang: clipped divisors
    [InlineData(20, 13, 11, 3, 2, 1, 1, 2, 2, true)]   // count_include_pad: divisors inside the padded input
    [InlineData(5, 7, 9, 3, 1, 1, 1, 1, 1, true)]
    public unsafe void Average_pool_matches_the_nchw_kernel(int c, int h, int w, int k, int stride, int padTop, int padLeft,
        int padBottom, int padRight, bool countIncludePad)
    {
        var g = new Conv2dGeometry(2, c, h, w, c, k, k, stride, stride, padTop, padLeft, padBottom, padRight);
        var rng = new Random(c + h + k);
        var x = new float[2 * c * h * w];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        int p = g.OutH * g.OutW;
        var expected = new float[2 * c * p];
        Pool2dKernel.AvgForward<float>(g, countIncludePad, x, expected);
        int cb = NchwcConv.Blocks(c);
        var xb = new float[2 * cb * h * w * 16];
        var yb = new float[2 * cb * p * 16];
        var y = new float[expected.Length];
        fixed (float* px = x, pxb = xb, pyb = yb, py = y)
        {
            NchwcConv.ToBlocked(px, 2, c, h * w, pxb);
            NchwcPool.AverageForward(g, countIncludePad, pxb, pyb);
            NchwcConv.FromBlocked(pyb, 2, c, p, py);
        }
        Assert.Equal(expected, y);   // same windows, same summation order
    }

    [Fact]
    public unsafe void Global_average_matches_the_mean_of_each_plane()
    {
        int n = 2, c = 21, hw = 49;
        var rng = new Random(3);
        var x = new float[n * c * hw];
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble();
        var xb = new float[n * NchwcConv.Blocks(c) * hw * 16];
        var y = new float[n * c];
        fixed (float* px = x, pxb = xb, py = y)
        {
            NchwcConv.ToBlocked(px, n, c, hw, pxb);
            NchwcPool.GlobalAverage(pxb, n, c, hw, py);
        }
        for (int i = 0; i < n * c; i++)
            Assert.Equal(x.AsSpan(i * hw, hw).ToArray().Average(), y[i], 5);
    }
}
