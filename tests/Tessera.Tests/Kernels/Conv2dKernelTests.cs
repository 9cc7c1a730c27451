using Tessera.Kernels;
using Xunit;

namespace Tessera.Tests.Kernels;

public class Conv2dKernelTests
{
    private static readonly Dictionary<string, Conv2dGeometry> Cases = new()
    {
        ["basic 3x3"] = new(N: 1, C: 3, H: 7, W: 7, K: 4, R: 3, S: 3),
        ["pad1 batch3 nonsquare"] = new(N: 3, C: 3, H: 6, W: 5, K: 4, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        ["stride2 pad1"] = new(N: 2, C: 4, H: 9, W: 8, K: 5, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        ["asymmetric pad and stride"] = new(N: 1, C: 2, H: 7, W: 6, K: 3, R: 3, S: 2, StrideH: 2, StrideW: 1, PadTop: 2, PadLeft: 0, PadBottom: 1, PadRight: 1),
        ["dilation2"] = new(N: 3, C: 2, H: 9, W: 10, K: 3, R: 3, S: 3, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2, DilationH: 2, DilationW: 2),
        ["dilation mixed stride2"] = new(N: 2, C: 3, H: 11, W: 8, K: 2, R: 2, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 0, PadBottom: 0, PadRight: 2, DilationH: 3, DilationW: 1),
        ["groups2"] = new(N: 3, C: 4, H: 6, W: 7, K: 6, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 2),
        ["groups2 stride2"] = new(N: 1, C: 6, H: 8, W: 9, K: 4, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, Groups: 2),
        ["depthwise"] = new(N: 3, C: 4, H: 7, W: 6, K: 4, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 4),
        ["depthwise mult2 stride2"] = new(N: 2, C: 3, H: 9, W: 8, K: 6, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 3),
        ["depthwise dilated asymmetric"] = new(N: 1, C: 3, H: 8, W: 9, K: 3, R: 3, S: 2, StrideH: 1, StrideW: 2, PadTop: 1, PadLeft: 0, PadBottom: 0, PadRight: 1, DilationH: 2, DilationW: 1, Groups: 3),
        ["depthwise mult2 dilated asymmetric unit stride"] = new(N: 2, C: 3, H: 9, W: 10, K: 6, R: 3, S: 3, PadTop: 2, PadLeft: 1, PadBottom: 0, PadRight: 2, DilationH: 1, DilationW: 2, Groups: 3),
        ["depthwise stride (2,1) wide rows"] = new(N: 1, C: 2, H: 9, W: 21, K: 2, R: 3, S: 5, StrideH: 2, StrideW: 1, PadTop: 1, PadLeft: 2, PadBottom: 1, PadRight: 2, Groups: 2),
        ["1x1 small planes batched"] = new(N: 3, C: 5, H: 4, W: 6, K: 7, R: 1, S: 1),
        ["1x1 large planes direct"] = new(N: 2, C: 3, H: 33, W: 32, K: 4, R: 1, S: 1),
        ["1x1 groups2 large planes"] = new(N: 2, C: 4, H: 32, W: 33, K: 6, R: 1, S: 1, Groups: 2),
        ["1x1 stride2"] = new(N: 2, C: 3, H: 7, W: 8, K: 4, R: 1, S: 1, StrideH: 2, StrideW: 2),
        ["1x1 padded"] = new(N: 1, C: 2, H: 4, W: 3, K: 3, R: 1, S: 1, PadTop: 1, PadLeft: 0, PadBottom: 0, PadRight: 1),
        ["2x4 kernel nonsquare"] = new(N: 3, C: 2, H: 5, W: 9, K: 3, R: 2, S: 4, StrideW: 3, PadLeft: 1, PadRight: 2),
        ["single input channel"] = new(N: 3, C: 1, H: 8, W: 8, K: 5, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        ["parallel sized"] = new(N: 3, C: 8, H: 16, W: 16, K: 8, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        // A first layer: 9 (c, r, s) columns per output channel, the weight gradient's dot-product path, in parallel.
        ["first layer 28x28 one channel"] = new(N: 4, C: 1, H: 28, W: 28, K: 8, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        ["depthwise parallel sized"] = new(N: 2, C: 16, H: 20, W: 20, K: 16, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: 16),
    };

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var name in Cases.Keys) data.Add(name);
        return data;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Naive references (double)
    // ---------------------------------------------------------------------------------------------------------

    private delegate void Visit(int n, int k, int oh, int ow, int c, int cl, int r, int s, int ih, int iw);

    /// <summary>Calls visit for every (output, weight tap) pair that touches a real (non-padding) input.</summary>
    private static void ForEachTap(Conv2dGeometry g, Visit visit)
    {
        int cg = g.C / g.Groups, kg = g.K / g.Groups;
        for (int n = 0; n < g.N; n++)
            for (int k = 0; k < g.K; k++)
                for (int oh = 0; oh < g.OutH; oh++)
                    for (int ow = 0; ow < g.OutW; ow++)
                        for (int cl = 0; cl < cg; cl++)
                            for (int r = 0; r < g.R; r++)
                                for (int s = 0; s < g.S; s++)
                                {
                                    int ih = oh * g.StrideH - g.PadTop + r * g.DilationH;
                                    int iw = ow * g.StrideW - g.PadLeft + s * g.DilationW;
                                    if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                                    visit(n, k, oh, ow, (k / kg) * cg + cl, cl, r, s, ih, iw);
                                }
    }

    private static int XI(Conv2dGeometry g, int n, int c, int h, int w) => ((n * g.C + c) * g.H + h) * g.W + w;
    private static int YI(Conv2dGeometry g, int n, int k, int oh, int ow) => ((n * g.K + k) * g.OutH + oh) * g.OutW + ow;
    private static int WI(Conv2dGeometry g, int k, int cl, int r, int s) => ((k * (g.C / g.Groups) + cl) * g.R + r) * g.S + s;

    private static double[] RefForward(Conv2dGeometry g, double[] x, double[] w, double[]? bias)
    {
        var y = new double[g.N * g.K * g.OutH * g.OutW];
        if (bias != null)
            for (int n = 0; n < g.N; n++)
                for (int k = 0; k < g.K; k++)
                    for (int p = 0; p < g.OutH * g.OutW; p++)
                        y[(n * g.K + k) * g.OutH * g.OutW + p] = bias[k];
        ForEachTap(g, (n, k, oh, ow, c, cl, r, s, ih, iw) =>
            y[YI(g, n, k, oh, ow)] += x[XI(g, n, c, ih, iw)] * w[WI(g, k, cl, r, s)]);
        return y;
    }

    private static double[] RefBackwardData(Conv2dGeometry g, double[] dy, double[] w)
    {
        var dx = new double[g.N * g.C * g.H * g.W];
        ForEachTap(g, (n, k, oh, ow, c, cl, r, s, ih, iw) =>
            dx[XI(g, n, c, ih, iw)] += dy[YI(g, n, k, oh, ow)] * w[WI(g, k, cl, r, s)]);
        return dx;
    }

    private static double[] RefBackwardWeight(Conv2dGeometry g, double[] x, double[] dy)
    {
        var dw = new double[g.K * (g.C / g.Groups) * g.R * g.S];
        ForEachTap(g, (n, k, oh, ow, c, cl, r, s, ih, iw) =>
            dw[WI(g, k, cl, r, s)] += dy[YI(g, n, k, oh, ow)] * x[XI(g, n, c, ih, iw)]);
        return dw;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------

    private static double[] Random(int count, int seed)
    {
        var rng = new Random(seed);
        var a = new double[count];
        for (int i = 0; i < count; i++) a[i] = rng.NextDouble() * 2 - 1;
        return a;
    }

    /// <summary>Random values exactly representable as float, so float and double runs see the same inputs.</summary>
    private static double[] RandomF(int count, int seed)
    {
        var a = Random(count, seed);
        for (int i = 0; i < a.Length; i++) a[i] = (float)a[i];
        return a;
    }

    private static float[] ToF(double[] a) => Array.ConvertAll(a, v => (float)v);

    private static double[] Filled(int count, double v)
    {
        var a = new double[count];
        Array.Fill(a, v);
        return a;
    }

    private static void AssertClose(double[] expected, ReadOnlySpan<double> actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (!(Math.Abs(e - a) <= tol * (1 + Math.Abs(e))))
                Assert.Fail($"{what}: element {i}: expected {e}, got {a}");
        }
    }

    private static void AssertClose(double[] expected, ReadOnlySpan<float> actual, double tol, string what)
    {
        var d = new double[actual.Length];
        for (int i = 0; i < d.Length; i++) d[i] = actual[i];
        AssertClose(expected, d, tol, what);
    }

    private static int XLen(Conv2dGeometry g) => g.N * g.C * g.H * g.W;
    private static int YLen(Conv2dGeometry g) => g.N * g.K * g.OutH * g.OutW;
    private static int WLen(Conv2dGeometry g) => g.K * (g.C / g.Groups) * g.R * g.S;

    /// <summary>
    /// Column-scratch budgets that exercise: the default (whole batch in one chunk for these sizes), one image per
    /// chunk, and two images per chunk (uneven last chunk for N = 3).
    /// </summary>
    private static long[] Budgets(Conv2dGeometry g)
    {
        long perImage = (long)(g.C / g.Groups) * g.R * g.S * g.OutH * g.OutW;
        return [Conv2dKernel.DefaultColBudget, 1, 2 * perImage];
    }

    // ---------------------------------------------------------------------------------------------------------
    // Tests
    // ---------------------------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Forward_MatchesReference(string name)
    {
        var g = Cases[name];
        var x = RandomF(XLen(g), 1);
        var w = RandomF(WLen(g), 2);
        var b = RandomF(g.K, 3);
        var expected = RefForward(g, x, w, b);
        var expectedNoBias = RefForward(g, x, w, null);

        foreach (long budget in Budgets(g))
        {
            var y = Filled(YLen(g), double.NaN);
            Conv2dKernel.Forward<double>(g, x, w, b, y, budget);
            AssertClose(expected, y, 1e-12, $"double, budget {budget}");

            Conv2dKernel.Forward<double>(g, x, w, ReadOnlySpan<double>.Empty, y, budget);
            AssertClose(expectedNoBias, y, 1e-12, $"double no bias, budget {budget}");

            var yf = new float[YLen(g)];
            Array.Fill(yf, float.NaN);
            Conv2dKernel.Forward<float>(g, ToF(x), ToF(w), ToF(b), yf, budget);
            AssertClose(expected, yf, 1e-5, $"float, budget {budget}");
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void BackwardData_MatchesReference(string name)
    {
        var g = Cases[name];
        var dy = RandomF(YLen(g), 4);
        var w = RandomF(WLen(g), 5);
        var expected = RefBackwardData(g, dy, w);

        foreach (long budget in Budgets(g))
        {
            var dx = Filled(XLen(g), double.NaN);
            Conv2dKernel.BackwardData<double>(g, dy, w, dx, budget);
            AssertClose(expected, dx, 1e-12, $"double, budget {budget}");

            var dxf = new float[XLen(g)];
            Array.Fill(dxf, float.NaN);
            Conv2dKernel.BackwardData<float>(g, ToF(dy), ToF(w), dxf, budget);
            AssertClose(expected, dxf, 1e-5, $"float, budget {budget}");
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void BackwardWeight_MatchesReference(string name)
    {
        var g = Cases[name];
        var x = RandomF(XLen(g), 6);
        var dy = RandomF(YLen(g), 7);
        var expected = RefBackwardWeight(g, x, dy);

        foreach (long budget in Budgets(g))
        {
            var dw = Filled(WLen(g), double.NaN);
            Conv2dKernel.BackwardWeight<double>(g, x, dy, dw, budget);
            AssertClose(expected, dw, 1e-12, $"double, budget {budget}");

            var dwf = new float[WLen(g)];
            Array.Fill(dwf, float.NaN);
            Conv2dKernel.BackwardWeight<float>(g, ToF(x), ToF(dy), dwf, budget);
            AssertClose(expected, dwf, 1e-4, $"float, budget {budget}");
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void BackwardBias_SumsOverBatchAndPixels(string name)
    {
        var g = Cases[name];
        var dy = RandomF(YLen(g), 8);
        int p = g.OutH * g.OutW;
        var expected = new double[g.K];
        for (int n = 0; n < g.N; n++)
            for (int k = 0; k < g.K; k++)
                for (int i = 0; i < p; i++)
                    expected[k] += dy[(n * g.K + k) * p + i];

        var db = Filled(g.K, double.NaN);
        Conv2dKernel.BackwardBias<double>(g, dy, db);
        AssertClose(expected, db, 1e-12, "double");

        var dbf = new float[g.K];
        Array.Fill(dbf, float.NaN);
        Conv2dKernel.BackwardBias<float>(g, ToF(dy), dbf);
        AssertClose(expected, dbf, 1e-5, "float");
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void AdjointIdentity_Holds(string name)
    {
        // <conv(x, w), dy> == <x, convBackwardData(dy, w)> == <w, convBackwardWeight(x, dy)>
        var g = Cases[name];
        var x = Random(XLen(g), 9);
        var w = Random(WLen(g), 10);
        var dy = Random(YLen(g), 11);

        var y = new double[YLen(g)];
        Conv2dKernel.Forward<double>(g, x, w, ReadOnlySpan<double>.Empty, y);
        var dx = new double[XLen(g)];
        Conv2dKernel.BackwardData<double>(g, dy, w, dx);
        var dw = new double[WLen(g)];
        Conv2dKernel.BackwardWeight<double>(g, x, dy, dw);

        double lhs = Dot(y, dy), mid = Dot(x, dx), rhs = Dot(w, dw);
        double scale = 1 + Math.Abs(lhs);
        Assert.True(Math.Abs(lhs - mid) <= 1e-10 * scale, $"<y,dy>={lhs} vs <x,dx>={mid}");
        Assert.True(Math.Abs(lhs - rhs) <= 1e-10 * scale, $"<y,dy>={lhs} vs <w,dw>={rhs}");
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    [Fact]
    public void ValidRange_MatchesBruteForce()
    {
        for (int start = -7; start <= 9; start++)
            for (int step = 1; step <= 3; step++)
                for (int count = 0; count <= 6; count++)
                    for (int limit = 0; limit <= 6; limit++)
                    {
                        Conv2dKernel.ValidRange(start, step, count, limit, out int lo, out int hi);
                        for (int o = 0; o < count; o++)
                        {
                            int v = start + o * step;
                            bool inside = v >= 0 && v < limit;
                            Assert.Equal(inside, o >= lo && o < hi);
                        }
                        Assert.True(lo <= hi);
                    }
    }
}
