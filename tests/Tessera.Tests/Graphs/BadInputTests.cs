using Tessera.Graphs;
using static Tessera.Graphs.Ops;

namespace Tessera.Tests.Graphs;

/// <summary>Bad input fails early with messages that name the op, the shapes and the dtypes.</summary>
public class BadInputTests
{
    [Fact]
    public void MatMul_with_mismatched_inner_dimensions_names_op_and_both_shapes()
    {
        var g = new Graph();
        var e = Assert.Throws<ShapeMismatchException>(() => MatMul(g.Matrix(DType.Float32, 3, 4), g.Matrix(DType.Float32, 5, 6)));
        Assert.Contains("MatMul", e.Message);
        Assert.Contains("(3, 4)", e.Message);
        Assert.Contains("(5, 6)", e.Message);
    }

    [Fact]
    public void Mixing_dtypes_names_both_dtypes()
    {
        var g = new Graph();
        var e = Assert.Throws<DTypeMismatchException>(() => Add(g.Scalar(DType.Float32), g.Scalar(DType.Float64)));
        Assert.Contains("Add", e.Message);
        Assert.Contains("float32", e.Message);
        Assert.Contains("float64", e.Message);
    }

    [Fact]
    public void Float_only_op_on_integers_names_the_dtype()
    {
        var g = new Graph();
        var e = Assert.Throws<DTypeMismatchException>(() => Exp(g.Vector(DType.Int32, 3)));
        Assert.Contains("Exp", e.Message);
        Assert.Contains("int32", e.Message);
    }

    [Fact]
    public void Let_with_wrong_shape_fails_at_let()
    {
        var g = new Graph();
        var x = g.Matrix(DType.Float32, 2, 3, "x");
        var e = Assert.Throws<ShapeMismatchException>(() => Graph.Let(x, Tensor.Zeros(DType.Float32, 3, 2)));
        Assert.Contains("x", e.Message);
        Assert.Contains("(2, 3)", e.Message);
        Assert.Contains("(3, 2)", e.Message);
    }

    [Fact]
    public void Let_with_wrong_dtype_fails_at_let()
    {
        var g = new Graph();
        var x = g.Vector(DType.Float32, 2, "x");
        var e = Assert.Throws<DTypeMismatchException>(() => Graph.Let(x, Tensor.Zeros(DType.Float64, 2)));
        Assert.Contains("float32", e.Message);
        Assert.Contains("float64", e.Message);
    }

    [Fact]
    public void Let_on_a_computed_node_is_refused()
    {
        var g = new Graph();
        var x = g.Scalar(DType.Float64, "x");
        var y = Exp(x);
        Assert.Throws<InvalidOperationException>(() => Graph.Let(y, 1.0));
    }

    [Fact]
    public void Dynamic_batch_dimension_accepts_any_size_and_is_checked_at_run_time()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [-1, 3], "x");
        var w = g.Constant(Tensor.Ones(DType.Float32, 3, 2));
        var y = MatMul(x, w);
        Assert.Equal([-1, 2], y.Shape);
        using var m = new TapeMachine(g);
        Graph.Let(x, Tensor.Ones(DType.Float32, 5, 3));
        m.RunAll();
        Assert.Equal([5, 2], y.Value!.ShapeArray());
        Graph.Let(x, Tensor.Ones(DType.Float32, 1, 3));
        m.RunAll();
        Assert.Equal([1, 2], y.Value!.ShapeArray());
        Assert.Equal(3.0, y.Value.GetDouble(0));
        Assert.Throws<ShapeMismatchException>(() => Graph.Let(x, Tensor.Ones(DType.Float32, 5, 4)));
    }

    [Fact]
    public void Empty_tensors_and_zero_sized_dimensions_work()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [0, 3], "x");
        var y = g.Input(DType.Float32, [3, 4], "y");
        var z = MatMul(x, y);
        var s = Sum(Exp(x), [0]);
        var c = Concat(0, x, x);
        using var m = new TapeMachine(g);
        Graph.Let(x, Tensor.Zeros(DType.Float32, 0, 3));
        Graph.Let(y, Tensor.Ones(DType.Float32, 3, 4));
        m.RunAll();
        Assert.Equal([0, 4], z.Value!.ShapeArray());
        Assert.Equal([0.0, 0, 0], s.Value!.ToDoubleArray());
        Assert.Equal(0, c.Value!.Length);
    }

    [Fact]
    public void Nan_and_infinity_propagate_as_ieee754_says()
    {
        var g = new Graph();
        var x = g.Constant(Tensor.FromArray(new float[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, 1f }, 5));
        var plusOne = x + 1.0;
        var mulZero = x * 0.0;
        var exp = Exp(x);
        var max = Max(x);
        var relu = Relu(x);
        var div = 1.0 / x;
        using var m = new TapeMachine(g);
        m.RunAll();
        var p = plusOne.Value!.ToArray<float>();
        Assert.True(float.IsNaN(p[0]) && float.IsPositiveInfinity(p[1]) && float.IsNegativeInfinity(p[2]));
        var z = mulZero.Value!.ToArray<float>();
        Assert.True(float.IsNaN(z[0]) && float.IsNaN(z[1]) && float.IsNaN(z[2]) && z[3] == 0);
        var e = exp.Value!.ToArray<float>();
        Assert.True(float.IsNaN(e[0]) && float.IsPositiveInfinity(e[1]) && e[2] == 0 && Math.Abs(e[3] - 1) < 1e-6);
        Assert.True(double.IsNaN(max.Value!.ToScalar()));
        Assert.True(float.IsNaN(relu.Value!.ToArray<float>()[0]));
        var d = div.Value!.ToArray<float>();
        Assert.True(float.IsPositiveInfinity(d[3]) && d[1] == 0);
    }

    [Fact]
    public void Grad_of_a_non_scalar_cost_says_to_reduce_it()
    {
        var g = new Graph();
        var x = g.Vector(DType.Float64, 3, "x");
        var e = Assert.Throws<ArgumentException>(() => Autodiff.Grad(Exp(x), x));
        Assert.Contains("Sum", e.Message);
    }

    [Fact]
    public void Gather_with_an_out_of_range_index_names_the_index()
    {
        var g = new Graph();
        var x = g.Constant(Tensor.Zeros(DType.Float32, 3, 2));
        var y = Gather(x, g.Constant(Tensor.FromArray(new long[] { 0, 5 }, 2)), 0);
        using var m = new TapeMachine(g);
        var e = Assert.Throws<IndexOutOfRangeException>(m.RunAll);
        Assert.Contains("5", e.Message);
    }
}
