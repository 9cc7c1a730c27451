using Tessera.Kernels;
using Xunit;

namespace Tessera.Tests.Kernels;

/// <summary>
/// The float32 erf against the double-precision series (itself checked against table values here, as printed by
/// Python's math.erf) over the whole range, both the 8-lane loop and its scalar tail, and the special values.
/// </summary>
public class FastErfTests
{
    [Theory]
    [InlineData(0.5, 0.5204998778130465)]
    [InlineData(1.0, 0.8427007929497149)]
    [InlineData(2.0, 0.9953222650189527)]
    [InlineData(3.0, 0.9999779095030014)]
    [InlineData(-0.1, -0.1124629160182849)]
    [InlineData(1e-5, 1.1283791670578999e-05)]
    public void Reference_series_matches_table_values(double x, double expected) =>
        Assert.Equal(expected, ErrorFunction.Erf(x), 1e-15);

    [Fact]
    public void Float_erf_is_within_a_few_ulp_of_the_series_everywhere()
    {
        // Dense over [-6, 6] plus tiny and huge magnitudes; 4001 values so the vector loop and the tail both run.
        var xs = new List<float>();
        for (int i = -24000; i <= 24000; i += 12) xs.Add(i / 4000f);
        foreach (float m in new[] { 1e-30f, 1e-10f, 1e-4f, 0.999999f, 1.000001f, 3.99f, 4.01f, 30f, 1e30f, float.Epsilon })
        {
            xs.Add(m); xs.Add(-m);
        }
        var x = xs.ToArray();
        var y = new float[x.Length];
        FastErf.Apply(x, y);
        for (int i = 0; i < x.Length; i++)
        {
            double expected = ErrorFunction.Erf(x[i]);
            double tolerance = 3e-7 * Math.Abs(expected) + 1e-45;
            Assert.True(Math.Abs(y[i] - expected) <= tolerance, $"erf({x[i]:R}) = {y[i]:R}, expected {expected:R}");
            Assert.True(Math.Abs(FastErf.Erf(x[i]) - expected) <= tolerance, $"scalar erf({x[i]:R}) = {FastErf.Erf(x[i]):R}, expected {expected:R}");
            Assert.Equal(Math.Sign(expected), Math.Sign(y[i]));
        }
    }

    [Fact]
    public void Special_values_keep_their_meaning()
    {
        float[] x = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, float.NaN, 5f, -5f, float.NaN];
        var y = new float[x.Length];
        FastErf.Apply(x, y);
        Assert.True(float.IsNaN(y[0]) && float.IsNaN(y[5]) && float.IsNaN(y[8]));   // lane 0, lane 5, and the scalar tail
        Assert.Equal(1f, y[1]);
        Assert.Equal(-1f, y[2]);
        Assert.Equal(0f, y[3]);
        Assert.True(float.IsNegative(y[4]));
        Assert.Equal(1f, y[6]);
        Assert.Equal(-1f, y[7]);
    }
}
