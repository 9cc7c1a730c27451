using Tessera.Graphs;

namespace Tessera.Tests.Graphs;

/// <summary>RoiAlign on images where bilinear sampling is exact (ramps), so bins have closed-form values.</summary>
public class RoiAlignOpTests
{
    private static Tensor Run(RoiAlignOp op, Tensor x, Tensor rois, Tensor idx)
    {
        var g = new Graph();
        var y = g.Apply(op, g.Constant(x), g.Constant(rois), g.Constant(idx));
        using var m = new TapeMachine(g);
        m.RunAll();
        return y.Value!.Clone();
    }

    private static Tensor Ramp(int h, int w, Func<int, int, double> f)
    {
        var x = Tensor.Empty(DType.Float64, 1, 1, h, w);
        for (int i = 0; i < h; i++) for (int j = 0; j < w; j++) x.SetDouble(i * w + j, f(i, j));
        return x;
    }

    [Fact]
    public void Average_bins_of_a_ramp_are_the_ramp_at_the_bin_centres()
    {
        // X[y, x] = x + 10y; region (0, 0)–(4, 4), 2×2 bins of 2 samples per side: samples at 0.5, 1.5 | 2.5, 3.5.
        var x = Ramp(6, 6, (i, j) => j + 10 * i);
        var rois = Tensor.FromArray(new double[] { 0, 0, 4, 4 }, 1, 4);
        var y = Run(new RoiAlignOp(2, 2, 2, 1, false, false), x, rois, Tensor.FromArray(new long[] { 0 }, 1));
        Assert.Equal([1, 1, 2, 2], y.ShapeArray());
        Assert.Equal(new double[] { 11, 13, 31, 33 }, y.ToDoubleArray().Select(v => Math.Round(v, 9)).ToArray());
        // half_pixel shifts the region by −0.5: the same bins read the ramp half a pixel earlier.
        var shifted = Run(new RoiAlignOp(2, 2, 2, 1, true, false), x, rois, Tensor.FromArray(new long[] { 0 }, 1));
        Assert.Equal(new double[] { 5.5, 7.5, 25.5, 27.5 }, shifted.ToDoubleArray().Select(v => Math.Round(v, 9)).ToArray());
    }

    [Fact]
    public void Spatial_scale_maps_region_coordinates_onto_the_feature_map()
    {
        var x = Ramp(4, 4, (i, j) => j);
        var rois = Tensor.FromArray(new double[] { 0, 0, 8, 8 }, 1, 4);
        var y = Run(new RoiAlignOp(1, 2, 1, 0.5, false, false), x, rois, Tensor.FromArray(new long[] { 0 }, 1));
        Assert.Equal(new double[] { 1, 3 }, y.ToDoubleArray());
    }

    [Fact]
    public void A_batch_index_outside_the_batch_is_an_error()
    {
        var x = Ramp(4, 4, (i, j) => j);
        var rois = Tensor.FromArray(new double[] { 0, 0, 2, 2 }, 1, 4);
        var e = Assert.ThrowsAny<Exception>(() => Run(new RoiAlignOp(1, 1, 1, 1, false, false), x, rois, Tensor.FromArray(new long[] { 3 }, 1)));
        Assert.Contains("batch index 3", e.ToString());
    }
}
