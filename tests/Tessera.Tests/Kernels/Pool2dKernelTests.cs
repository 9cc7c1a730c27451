using Tessera.Kernels;
using Xunit;

namespace Tessera.Tests.Kernels;

public class Pool2dKernelTests
{
    private static readonly Dictionary<string, Conv2dGeometry> Cases = new()
    {
        ["2x2 stride2"] = new(N: 2, C: 3, H: 6, W: 8, K: 3, R: 2, S: 2, StrideH: 2, StrideW: 2),
        ["3x3 stride2 pad1"] = new(N: 1, C: 2, H: 7, W: 7, K: 2, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        ["3x3 stride1 pad1 batch3"] = new(N: 3, C: 2, H: 5, W: 6, K: 2, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
        ["asymmetric pad and stride"] = new(N: 3, C: 2, H: 6, W: 7, K: 2, R: 3, S: 2, StrideH: 2, StrideW: 1, PadTop: 1, PadLeft: 0, PadBottom: 2, PadRight: 1),
        ["dilation2"] = new(N: 2, C: 2, H: 9, W: 8, K: 2, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, DilationH: 2, DilationW: 2),
        ["nonsquare window"] = new(N: 1, C: 1, H: 5, W: 9, K: 1, R: 2, S: 3, StrideH: 1, StrideW: 2, PadTop: 0, PadLeft: 1, PadBottom: 1, PadRight: 0),
        ["overlapping 3x3 stride1"] = new(N: 1, C: 3, H: 6, W: 6, K: 3, R: 3, S: 3),
        ["ceil-mode end pads 3x3 stride2"] = new(N: 1, C: 2, H: 8, W: 9, K: 2, R: 3, S: 3, StrideH: 2, StrideW: 2, PadBottom: 1, PadRight: 2),
        ["wide window 5x4 stride3"] = new(N: 1, C: 2, H: 11, W: 13, K: 2, R: 5, S: 4, StrideH: 3, StrideW: 3, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 1),
        ["parallel sized"] = new(N: 4, C: 16, H: 16, W: 16, K: 16, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1),
    };

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var name in Cases.Keys) data.Add(name);
        return data;
    }

    public static TheoryData<string, bool> CaseNamesWithPadMode()
    {
        var data = new TheoryData<string, bool>();
        foreach (var name in Cases.Keys)
        {
            data.Add(name, true);
            data.Add(name, false);
        }
        return data;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Naive references (double)
    // ---------------------------------------------------------------------------------------------------------

    private delegate void WindowVisit(int plane, int oh, int ow, List<int> inside, int paddedCount);

    /// <summary>
    /// For every output, the plane-relative indices of window positions inside the input (row-major window
    /// order) and the number of positions inside the padded input.
    /// </summary>
    private static void ForEachWindow(Conv2dGeometry g, WindowVisit visit)
    {
        var inside = new List<int>();
        for (int plane = 0; plane < g.N * g.C; plane++)
            for (int oh = 0; oh < g.OutH; oh++)
                for (int ow = 0; ow < g.OutW; ow++)
                {
                    inside.Clear();
                    int padded = 0;
                    for (int r = 0; r < g.R; r++)
                        for (int s = 0; s < g.S; s++)
                        {
                            int ih = oh * g.StrideH - g.PadTop + r * g.DilationH;
                            int iw = ow * g.StrideW - g.PadLeft + s * g.DilationW;
                            if (ih >= -g.PadTop && ih < g.H + g.PadBottom && iw >= -g.PadLeft && iw < g.W + g.PadRight) padded++;
                            if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) inside.Add(ih * g.W + iw);
                        }
                    visit(plane, oh, ow, inside, padded);
                }
    }

    private static (double[] y, double[] dx) RefMax(Conv2dGeometry g, double[] x, double[] dy)
    {
        int hw = g.H * g.W, p = g.OutH * g.OutW;
        var y = new double[g.N * g.C * p];
        var dx = new double[x.Length];
        ForEachWindow(g, (plane, oh, ow, inside, _) =>
        {
            double best = double.NegativeInfinity;
            int arg = -1;
            foreach (int i in inside)
                if (arg < 0 || x[plane * hw + i] > best) { best = x[plane * hw + i]; arg = i; }
            int o = plane * p + oh * g.OutW + ow;
            y[o] = best;
            if (arg >= 0) dx[plane * hw + arg] += dy[o];
        });
        return (y, dx);
    }

    private static double[] RefAvg(Conv2dGeometry g, bool includePad, double[] x)
    {
        int hw = g.H * g.W, p = g.OutH * g.OutW;
        var y = new double[g.N * g.C * p];
        ForEachWindow(g, (plane, oh, ow, inside, padded) =>
        {
            double sum = 0;
            foreach (int i in inside) sum += x[plane * hw + i];
            int divisor = includePad ? padded : inside.Count;
            y[plane * p + oh * g.OutW + ow] = divisor == 0 ? 0 : sum / divisor;
        });
        return y;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------

    private static double[] Random(int count, int seed, double lo = -1, double hi = 1)
    {
        var rng = new Random(seed);
        var a = new double[count];
        for (int i = 0; i < count; i++) a[i] = (float)(lo + rng.NextDouble() * (hi - lo));
        return a;
    }

    private static float[] ToF(double[] a) => Array.ConvertAll(a, v => (float)v);

    private static double[] NaNs(int count)
    {
        var a = new double[count];
        Array.Fill(a, double.NaN);
        return a;
    }

    private static void AssertClose(double[] expected, ReadOnlySpan<double> actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            bool ok = e == a || Math.Abs(e - a) <= tol * (1 + Math.Abs(e));
            if (!ok) Assert.Fail($"{what}: element {i}: expected {e}, got {a}");
        }
    }

    private static void AssertClose(double[] expected, ReadOnlySpan<float> actual, double tol, string what)
    {
        var d = new double[actual.Length];
        for (int i = 0; i < d.Length; i++) d[i] = actual[i];
        AssertClose(expected, d, tol, what);
    }

    private static int XLen(Conv2dGeometry g) => g.N * g.C * g.H * g.W;
    private static int YLen(Conv2dGeometry g) => g.N * g.C * g.OutH * g.OutW;

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    /// <summary>Central finite differences of L(x) = &lt;forward(x), dy&gt; with respect to each x element.</summary>
    private static double[] FiniteDifferenceGradient(double[] x, double[] dy, int yLen, Action<double[], double[]> forward, double eps)
    {
        var grad = new double[x.Length];
        var xp = (double[])x.Clone();
        var y = new double[yLen];
        for (int i = 0; i < x.Length; i++)
        {
            double orig = xp[i];
            xp[i] = orig + eps;
            forward(xp, y);
            double lp = Dot(y, dy);
            xp[i] = orig - eps;
            forward(xp, y);
            double lm = Dot(y, dy);
            xp[i] = orig;
            grad[i] = (lp - lm) / (2 * eps);
        }
        return grad;
    }

    // Finite differences are O(|x|·|y|); keep them to the small cases.
    private static bool SmallEnoughForFiniteDifferences(Conv2dGeometry g) => XLen(g) <= 400;

    // ---------------------------------------------------------------------------------------------------------
    // Max pooling
    // ---------------------------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MaxForwardAndBackward_MatchReference(string name)
    {
        var g = Cases[name];
        // All-negative inputs make sure padding acts as -inf rather than 0.
        var x = Random(XLen(g), 1, -3, -1);
        var dy = Random(YLen(g), 2);
        var (ey, edx) = RefMax(g, x, dy);

        var y = NaNs(YLen(g));
        Pool2dKernel.MaxForward<double>(g, x, y);
        AssertClose(ey, y, 0, "forward double");
        var dx = NaNs(XLen(g));
        Pool2dKernel.MaxBackward<double>(g, x, dy, dx);
        AssertClose(edx, dx, 1e-14, "backward double");

        var yf = new float[YLen(g)];
        Pool2dKernel.MaxForward<float>(g, ToF(x), yf);
        AssertClose(ey, yf, 0, "forward float");
        var dxf = new float[XLen(g)];
        Array.Fill(dxf, float.NaN);
        Pool2dKernel.MaxBackward<float>(g, ToF(x), ToF(dy), dxf);
        AssertClose(edx, dxf, 1e-6, "backward float");
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MaxBackward_MatchesFiniteDifferences(string name)
    {
        var g = Cases[name];
        if (!SmallEnoughForFiniteDifferences(g)) return;
        var x = Random(XLen(g), 3);
        var dy = Random(YLen(g), 4);
        var dx = new double[XLen(g)];
        Pool2dKernel.MaxBackward<double>(g, x, dy, dx);
        var fd = FiniteDifferenceGradient(x, dy, YLen(g), (xi, yo) => Pool2dKernel.MaxForward<double>(g, xi, yo), 1e-7);
        AssertClose(fd, dx, 1e-6, "max backward vs finite differences");
    }

    [Fact]
    public void MaxBackward_TiesGoToFirstMaximumInRowMajorWindowOrder()
    {
        // Constant input: every window is a tie, so each output's gradient lands on the window's first
        // in-bounds position (row-major), accumulating where windows share that position.
        var g = new Conv2dGeometry(N: 1, C: 1, H: 4, W: 4, K: 1, R: 2, S: 2, StrideH: 1, StrideW: 1,
            PadTop: 1, PadLeft: 1, PadBottom: 0, PadRight: 0);
        var x = new double[16];
        Array.Fill(x, 5.0);
        var dy = new double[g.OutH * g.OutW];
        for (int i = 0; i < dy.Length; i++) dy[i] = i + 1;
        var dx = new double[16];
        Pool2dKernel.MaxBackward<double>(g, x, dy, dx);

        var expected = new double[16];
        for (int oh = 0; oh < g.OutH; oh++)
            for (int ow = 0; ow < g.OutW; ow++)
            {
                int ih = Math.Max(oh - 1, 0), iw = Math.Max(ow - 1, 0);
                expected[ih * 4 + iw] += dy[oh * g.OutW + ow];
            }
        AssertClose(expected, dx, 0, "ties");

        // A tie later in the window does not steal the gradient from an earlier maximum.
        var g2 = new Conv2dGeometry(N: 1, C: 1, H: 2, W: 2, K: 1, R: 2, S: 2);
        double[] x2 = [1, 3, 3, 2];
        double[] dx2 = new double[4];
        Pool2dKernel.MaxBackward<double>(g2, x2, [1.5], dx2);
        Assert.Equal(new double[] { 0, 1.5, 0, 0 }, dx2);
    }

    [Theory]
    [InlineData(2, 3, 28, 28, false)]
    [InlineData(2, 3, 14, 14, false)]  // 7 windows per row: the row's last vector step overlaps the one before
    [InlineData(1, 2, 9, 13, false)]   // odd height and width: the last row and column belong to no window
    [InlineData(2, 3, 14, 14, true)]
    public void MaxPool_2x2_float_fast_path_matches_the_scalar_rule(int n, int c, int h, int w, bool withNaN)
    {
        // Values from a small set make ties common, so the first-maximum order is exercised in every position;
        // NaNs (which win their window) send their vector step through the scalar rule.
        var g = new Conv2dGeometry(N: n, C: c, H: h, W: w, K: c, R: 2, S: 2, StrideH: 2, StrideW: 2);
        var rng = new Random(7);
        var x = new double[XLen(g)];
        for (int i = 0; i < x.Length; i++) x[i] = withNaN && rng.Next(40) == 0 ? double.NaN : rng.Next(-2, 3);
        var dy = Random(YLen(g), 8);
        var expected = new double[XLen(g)];
        Pool2dKernel.MaxBackward<double>(g, x, dy, expected);   // double always takes the scalar path
        if (!withNaN) AssertClose(RefMax(g, x, dy).dx, expected, 0, "scalar path vs reference");

        var dx = new float[XLen(g)];
        Array.Fill(dx, float.NaN);                             // every element must be written
        Pool2dKernel.MaxBackward<float>(g, ToF(x), ToF(dy), dx);
        AssertClose(expected, dx, 0, "float 2x2 backward vs scalar rule");

        // With the ReLU mask (x is a ReLU output here: zeros and negatives included) winners ≤ 0 get nothing.
        var expectedMasked = new double[XLen(g)];
        Pool2dKernel.MaxBackward<double>(g, x, dy, expectedMasked, reluMask: true);
        for (int i = 0; i < x.Length; i++) Assert.Equal(x[i] > 0 ? expected[i] : 0, expectedMasked[i]);
        Array.Fill(dx, float.NaN);
        Pool2dKernel.MaxBackward<float>(g, ToF(x), ToF(dy), dx, reluMask: true);
        AssertClose(expectedMasked, dx, 0, "float 2x2 backward with ReLU mask vs scalar rule");

        var ey = new double[YLen(g)];
        Pool2dKernel.MaxForward<double>(g, x, ey);
        var y = new float[YLen(g)];
        Array.Fill(y, -7f);
        Pool2dKernel.MaxForward<float>(g, ToF(x), y);
        for (int i = 0; i < y.Length; i++)
            Assert.True(double.IsNaN(ey[i]) ? float.IsNaN(y[i]) : ey[i] == y[i], $"forward element {i}: expected {ey[i]}, got {y[i]}");
        Assert.Equal(withNaN, ey.Any(double.IsNaN));
    }

    [Fact]
    public void MaxForward_PropagatesNaN_OnlyToWindowsHoldingIt()
    {
        // 3×3 stride 2 pad 1 on 7×7: input (3, 3) lies in the windows of output rows/columns 1 and 2 only.
        var g = new Conv2dGeometry(N: 1, C: 1, H: 7, W: 7, K: 1, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1);
        var x = Random(49, 5);
        x[3 * 7 + 3] = double.NaN;
        var y = new double[16];
        Pool2dKernel.MaxForward<double>(g, x, y);
        for (int oh = 0; oh < 4; oh++)
            for (int ow = 0; ow < 4; ow++)
                Assert.Equal(oh is 1 or 2 && ow is 1 or 2, double.IsNaN(y[oh * 4 + ow]));
    }

    [Fact]
    public void MaxForward_PropagatesNaN()
    {
        var g = new Conv2dGeometry(N: 1, C: 1, H: 2, W: 2, K: 1, R: 2, S: 2);
        var y = new double[1];
        Pool2dKernel.MaxForward<double>(g, [1, double.NaN, 7, 2], y);
        Assert.True(double.IsNaN(y[0]));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Average pooling
    // ---------------------------------------------------------------------------------------------------------

    [Theory]
    [MemberData(nameof(CaseNamesWithPadMode))]
    public void AvgForward_MatchesReference(string name, bool countIncludePad)
    {
        var g = Cases[name];
        var x = Random(XLen(g), 5);
        var expected = RefAvg(g, countIncludePad, x);

        var y = NaNs(YLen(g));
        Pool2dKernel.AvgForward<double>(g, countIncludePad, x, y);
        AssertClose(expected, y, 1e-14, "double");

        var yf = new float[YLen(g)];
        Pool2dKernel.AvgForward<float>(g, countIncludePad, ToF(x), yf);
        AssertClose(expected, yf, 1e-6, "float");
    }

    [Theory]
    [MemberData(nameof(CaseNamesWithPadMode))]
    public void AvgBackward_MatchesFiniteDifferencesAndAdjoint(string name, bool countIncludePad)
    {
        var g = Cases[name];
        var x = Random(XLen(g), 6);
        var dy = Random(YLen(g), 7);
        var dx = NaNs(XLen(g));
        Pool2dKernel.AvgBackward<double>(g, countIncludePad, dy, dx);

        // Adjoint: <avg(x), dy> == <x, avgBackward(dy)>.
        var y = new double[YLen(g)];
        Pool2dKernel.AvgForward<double>(g, countIncludePad, x, y);
        double lhs = Dot(y, dy), rhs = Dot(x, dx);
        Assert.True(Math.Abs(lhs - rhs) <= 1e-12 * (1 + Math.Abs(lhs)), $"{lhs} vs {rhs}");

        if (SmallEnoughForFiniteDifferences(g))
        {
            var fd = FiniteDifferenceGradient(x, dy, YLen(g), (xi, yo) => Pool2dKernel.AvgForward<double>(g, countIncludePad, xi, yo), 1e-6);
            AssertClose(fd, dx, 1e-7, "avg backward vs finite differences");
        }

        var dxf = new float[XLen(g)];
        Array.Fill(dxf, float.NaN);
        Pool2dKernel.AvgBackward<float>(g, countIncludePad, ToF(dy), dxf);
        AssertClose(dx, dxf, 1e-6, "float");
    }

    [Fact]
    public void AvgForward_CountIncludePadMatchesPyTorchDivisors()
    {
        // 3×3 window, stride 2, pad 1 on a 4×4 of ones: corner window covers 4 real + 5 padded positions.
        var g = new Conv2dGeometry(N: 1, C: 1, H: 4, W: 4, K: 1, R: 3, S: 3, StrideH: 2, StrideW: 2,
            PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1);
        var x = new double[16];
        Array.Fill(x, 1.0);
        var y = new double[g.OutH * g.OutW];
        Pool2dKernel.AvgForward<double>(g, true, x, y);
        // Outputs (0,0): 4/9; (0,1): window cols 1..3 real, rows -1..1 → 6/9; (1,1): rows 1..3, cols 1..3 → 9/9.
        Assert.Equal(4.0 / 9, y[0], 15);
        Assert.Equal(6.0 / 9, y[1], 15);
        Assert.Equal(1.0, y[3], 15);
        Pool2dKernel.AvgForward<double>(g, false, x, y);
        Assert.All(y, v => Assert.Equal(1.0, v, 15));

        // Asymmetric padding: top padding counts, the (absent) bottom padding does not.
        // H = 3, pad top 1, pad bottom 0, window 2, stride 2 → windows rows -1..0 and 1..2.
        var g2 = new Conv2dGeometry(N: 1, C: 1, H: 3, W: 1, K: 1, R: 2, S: 1, StrideH: 2, StrideW: 1, PadTop: 1);
        var y2 = new double[g2.OutH];
        Assert.Equal(2, g2.OutH);
        Pool2dKernel.AvgForward<double>(g2, true, [2, 4, 6], y2);
        Assert.Equal(1.0, y2[0], 15);   // (pad + 2) / 2
        Assert.Equal(5.0, y2[1], 15);   // rows 1..2 → (4 + 6) / 2
    }

    // ---------------------------------------------------------------------------------------------------------
    // Global average pooling
    // ---------------------------------------------------------------------------------------------------------

    [Fact]
    public void GlobalAvg_ForwardAndBackward()
    {
        var g = new Conv2dGeometry(N: 2, C: 3, H: 4, W: 5, K: 3, R: 4, S: 5);
        var x = Random(XLen(g), 8);
        var y = NaNs(6);
        Pool2dKernel.GlobalAvgForward<double>(g, x, y);
        var expected = RefAvg(g, false, x); // a full-plane window is global average pooling
        AssertClose(expected, y, 1e-14, "forward");

        var dy = Random(6, 9);
        var dx = NaNs(XLen(g));
        Pool2dKernel.GlobalAvgBackward<double>(g, dy, dx);
        var edx = new double[XLen(g)];
        Pool2dKernel.AvgBackward<double>(g, false, dy, edx);
        AssertClose(edx, dx, 1e-14, "backward");
    }
}
