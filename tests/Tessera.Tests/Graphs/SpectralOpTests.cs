using Tessera.Graphs;

namespace Tessera.Tests.Graphs;

/// <summary>DFT, STFT and MelWeightMatrix against closed forms and against each other.</summary>
public class SpectralOpTests
{
    private static Tensor Eval(Func<Graph, Node> build)
    {
        var g = new Graph();
        var y = build(g);
        using var m = new TapeMachine(g);
        m.RunAll();
        var copy = Tensor.Empty(y.DType, y.Value!.ShapeArray());
        y.Value.CopyTo(copy);
        return copy;
    }

    private static void Near(double[] expected, Tensor actual, double tol = 1e-9)
    {
        var a = actual.ToDoubleArray();
        Assert.Equal(expected.Length, a.Length);
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(expected[i] - a[i]) <= tol, $"element {i}: {a[i]}, expected {expected[i]}");
    }

    [Fact]
    public void Dft_of_a_real_ramp_matches_the_closed_form()
    {
        // DFT of [1, 2, 3, 4] = [10, −2+2i, −2, −2−2i].
        var x = Tensor.FromArray(new double[] { 1, 2, 3, 4 }, 1, 4, 1);
        var y = Eval(g => g.Apply(new DftOp(1, false, false), g.Constant(x)));
        Assert.Equal([1, 4, 2], y.ShapeArray());
        Near([10, 0, -2, 2, -2, 0, -2, -2], y);
    }

    [Fact]
    public void Onesided_keeps_n_over_2_plus_1_bins_and_dft_length_zero_pads()
    {
        var x = Tensor.FromArray(new double[] { 1, 2 }, 1, 2, 1);
        // [1, 2, 0, 0] → [3, 1−2i, −1, 1+2i]; onesided keeps the first 3.
        Near([3, 0, 1, -2, -1, 0, 1, 2], Eval(g => g.Apply(new DftOp(1, false, false, 4), g.Constant(x))));
        Near([3, 0, 1, -2, -1, 0], Eval(g => g.Apply(new DftOp(1, false, true, 4), g.Constant(x))));
    }

    [Fact]
    public void Inverse_undoes_the_forward_transform_along_an_inner_axis()
    {
        var x = Tensor.RandomUniform(7, DType.Float64, -1, 1, 2, 3, 5, 2);
        var back = Eval(g => g.Apply(new DftOp(2, true, false), g.Apply(new DftOp(-2, false, false), g.Constant(x))));
        Near(x.ToDoubleArray(), back, 1e-12);
    }

    [Fact]
    public void Dft_rejects_an_axis_on_the_complex_parts_and_integer_input()
    {
        var g = new Graph();
        Assert.Throws<ArgumentException>(() => g.Apply(new DftOp(2, false, false), g.Input(DType.Float32, [1, 4, 1])));
        var e = Assert.Throws<DTypeMismatchException>(() => g.Apply(new DftOp(1, false, false), g.Input(DType.Int32, [1, 4, 1])));
        Assert.Contains("int32", e.Message);
    }

    [Fact]
    public void Stft_frames_are_windowed_dfts_of_the_signal()
    {
        var signal = Tensor.RandomUniform(3, DType.Float64, -1, 1, 1, 20, 1);
        var window = Tensor.RandomUniform(4, DType.Float64, 0, 1, 6);
        var y = Eval(g => g.Apply(new StftOp(4, 6, true), g.Constant(signal), g.Constant(window)));
        Assert.Equal([1, 4, 4, 2], y.ShapeArray());   // (20 − 6)/4 + 1 frames, 6/2 + 1 bins
        for (int f = 0; f < 4; f++)
        {
            var frame = Tensor.Empty(DType.Float64, 1, 6, 1);
            for (int j = 0; j < 6; j++) frame.SetDouble(j, signal.GetDouble(f * 4 + j) * window.GetDouble(j));
            var dft = Eval(g => g.Apply(new DftOp(1, false, true), g.Constant(frame))).ToDoubleArray();
            for (int k = 0; k < 8; k++) Assert.Equal(dft[k], y.GetDouble(f * 8 + k), 12);
        }
    }

    [Fact]
    public void Stft_rejects_a_signal_shorter_than_a_frame()
    {
        var g = new Graph();
        Assert.Throws<ShapeMismatchException>(() => g.Apply(new StftOp(2, 16, true), g.Input(DType.Float32, [1, 8, 1])));
    }

    [Fact]
    public void Mel_filters_are_triangles_that_peak_at_one()
    {
        var w = Eval(g => g.Apply(new MelWeightMatrixOp(4, 64, 8000, 100, 4000, DType.Float32)));
        Assert.Equal([33, 4], w.ShapeArray());
        for (int m = 0; m < 4; m++)
        {
            var col = Enumerable.Range(0, 33).Select(b => w.GetDouble(b * 4 + m)).ToArray();
            Assert.All(col, v => Assert.InRange(v, 0, 1));
            Assert.Equal(1, col.Max(), 12);
            // Rises then falls: no value after the peak exceeds its predecessor.
            int peak = Array.IndexOf(col, col.Max());
            for (int b = peak + 1; b < col.Length; b++) Assert.True(col[b] <= col[b - 1]);
            for (int b = 1; b <= peak; b++) Assert.True(col[b] >= col[b - 1]);
        }
        Assert.Throws<ArgumentException>(() => new Graph().Apply(new MelWeightMatrixOp(4, 64, 8000, 100, 5000, DType.Float32)));
    }
}
