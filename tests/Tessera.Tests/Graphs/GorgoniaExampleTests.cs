using Tessera.Graphs;
using static Tessera.Graphs.Ops;

namespace Tessera.Tests.Graphs;

/// <summary>The seeds' Gorgonia example: z = x + y on scalars bound with Let.</summary>
public class GorgoniaExampleTests
{
    [Theory]
    [InlineData(2.0, 3.0, 5.0)]
    [InlineData(2.0, 2.5, 4.5)]
    public void Add_of_two_scalars_gives_their_sum(double xv, double yv, double expected)
    {
        var g = new Graph();
        var x = g.Scalar(DType.Float64, "x");
        var y = g.Scalar(DType.Float64, "y");
        var z = Add(x, y);
        using var machine = new TapeMachine(g);
        Graph.Let(x, xv);
        Graph.Let(y, yv);
        machine.RunAll();
        Assert.Equal(expected, z.Value!.ToScalar());
        Assert.Equal(DType.Float64, z.Value.DType);
        Assert.Equal(0, z.Value.Rank);
    }

    [Fact]
    public void Rebinding_an_input_and_running_again_recomputes()
    {
        var g = new Graph();
        var x = g.Scalar(DType.Float32, "x");
        var z = x * x + 1.0;
        using var m = new TapeMachine(g);
        Graph.Let(x, 3.0);
        m.RunAll();
        Assert.Equal(10.0, z.Value!.ToScalar());
        Graph.Let(x, -2.0);
        m.RunAll();
        Assert.Equal(5.0, z.Value!.ToScalar());
    }

    [Fact]
    public void Running_without_a_bound_input_names_the_input()
    {
        var g = new Graph();
        var x = g.Scalar(DType.Float64, "x");
        var y = g.Scalar(DType.Float64, "y");
        _ = x + y;
        using var m = new TapeMachine(g);
        Graph.Let(x, 1.0);
        var e = Assert.Throws<InvalidOperationException>(m.RunAll);
        Assert.Contains("y", e.Message);
        Assert.Contains("Let", e.Message);
    }

    [Fact]
    public void Grad_of_the_sum_is_one_for_each_operand_and_can_be_differentiated_again()
    {
        var g = new Graph();
        var x = g.Scalar(DType.Float64, "x");
        var y = g.Scalar(DType.Float64, "y");
        var z = x * x * y;                  // ∂z/∂x = 2xy, ∂²z/∂x² = 2y
        var dx = Autodiff.Grad(z, x)[0];
        var dxx = Autodiff.Grad(dx, x)[0];
        using var m = new TapeMachine(g);
        Graph.Let(x, 3.0);
        Graph.Let(y, 0.5);
        m.RunAll();
        Assert.Equal(3.0, dx.Value!.ToScalar(), 12);
        Assert.Equal(1.0, dxx.Value!.ToScalar(), 12);
    }
}
