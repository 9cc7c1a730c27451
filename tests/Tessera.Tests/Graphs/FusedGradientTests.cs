using Tessera.Graphs;
using Xunit;
using O = Tessera.Graphs.Ops;

namespace Tessera.Tests.Graphs;

/// <summary>
/// The gradient rules that fuse or rewrite for training speed (ReluGrad, ReLU → max-pool, Linear's transposed
/// weight, the conv bias sum) give the same numbers as the unfused compositions they replace. Finite-difference
/// checks of the same rules are in <see cref="GradientCheckTests"/>.
/// </summary>
public class FusedGradientTests
{
    private static float[] Values(int count, int seed, bool withZerosAndTies)
    {
        var rng = new Random(seed);
        var v = new float[count];
        for (int i = 0; i < count; i++)
            v[i] = withZerosAndTies ? rng.Next(-3, 4) * 0.5f : (float)(rng.NextDouble() * 4 - 2);
        return v;
    }

    private static float[] Run(Graph g, Node output, params (Node Input, Tensor Value)[] inputs)
    {
        using var m = new TapeMachine(g, output);
        foreach (var (input, value) in inputs) Graph.Let(input, value);
        m.RunAll();
        return output.Value!.Contiguous().ToDoubleArray().Select(d => (float)d).ToArray();
    }

    [Theory]
    [InlineData(8, 8, false)]
    [InlineData(14, 14, true)]    // many exact zeros (inactive units) and ties inside pooling windows
    [InlineData(9, 11, true)]     // odd sizes: the last row and column belong to no window
    public void Relu_then_max_pool_gradient_uses_one_fused_op_equal_to_the_two_step_path(int h, int w, bool zerosAndTies)
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [2, 3, h, w], "x");
        var relu = O.Relu(x);
        var pooled = O.MaxPool2d(relu, [2, 2], [2, 2]);
        var r = g.Input(DType.Float32, pooled.Shape, "r");
        var grad = Autodiff.Grad(O.Sum(O.Mul(pooled, r)), x)[0];
        Assert.Equal("MaxPool2dReluGrad", grad.Operation!.Name);

        // The unfused path, built by hand: route through the pool, then mask with ReLU's derivative.
        var routed = g.Apply(new Pool2dGradOp((Pool2dOp)pooled.Operation!), r, relu);
        var unfused = O.ReluGrad(routed, x);

        var xv = Tensor.FromArray(Values(2 * 3 * h * w, 1, zerosAndTies), 2, 3, h, w);
        var rv = Tensor.FromArray(Values(pooled.Shape.Aggregate(1, (a, b) => a * b), 2, false), pooled.Shape);
        var fused = Run(g, grad, (x, xv), (r, rv));
        var reference = Run(g, unfused, (x, xv), (r, rv));
        Assert.Equal(reference, fused);
        Assert.Contains(fused, v => v != 0);
    }

    [Fact]
    public void ReluGrad_equals_gy_times_step_for_finite_values_and_is_zero_where_inactive_even_for_infinite_gy()
    {
        var g = new Graph();
        var gy = g.Input(DType.Float32, [37], "gy");   // 37: vector lanes and a scalar tail
        var x = g.Input(DType.Float32, [37], "x");
        var fused = O.ReluGrad(gy, x);
        var product = O.Mul(gy, O.Step(x));
        var gyv = Tensor.FromArray(Values(37, 3, false), 37);
        var xv = Tensor.FromArray(Values(37, 4, true), 37);
        Assert.Equal(Run(g, product, (gy, gyv), (x, xv)), Run(g, fused, (gy, gyv), (x, xv)));

        var inf = Tensor.FromArray(Enumerable.Repeat(float.PositiveInfinity, 37).ToArray(), 37);
        var got = Run(g, fused, (gy, inf), (x, xv));
        var xs = xv.ToDoubleArray();
        for (int i = 0; i < 37; i++) Assert.Equal(xs[i] > 0 ? float.PositiveInfinity : 0f, got[i]);
    }

    [Fact]
    public void Linear_weight_gradient_is_a_contiguous_product_equal_to_the_transposed_view()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [5, 7], "x");
        var wt = g.Input(DType.Float32, [3, 7], "w");
        var y = O.MatMul(x, O.Transpose(wt));
        var r = g.Input(DType.Float32, [5, 3], "r");
        var gw = Autodiff.Grad(O.Sum(O.Mul(y, r)), wt)[0];
        Assert.IsType<MatMulOp>(gw.Operation);   // not a Permute view of the product

        var xv = Tensor.FromArray(Values(35, 5, false), 5, 7);
        var rv = Tensor.FromArray(Values(15, 6, false), 5, 3);
        using var m = new TapeMachine(g, gw);
        Graph.Let(x, xv); Graph.Let(wt, Tensor.FromArray(Values(21, 7, false), 3, 7)); Graph.Let(r, rv);
        m.RunAll();
        Assert.True(gw.Value!.IsContiguous);
        // ∂/∂W of Σ (x·Wᵀ) ∘ r is rᵀ·x.
        var xs = xv.ToDoubleArray(); var rs = rv.ToDoubleArray(); var got = gw.Value.ToDoubleArray();
        for (int o = 0; o < 3; o++)
            for (int i = 0; i < 7; i++)
            {
                double e = 0;
                for (int b = 0; b < 5; b++) e += rs[b * 3 + o] * xs[b * 7 + i];
                Assert.Equal(e, got[o * 7 + i], 5);
            }
    }

    [Fact]
    public void Conv_bias_gradient_is_the_sum_over_batch_and_pixels()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [3, 2, 5, 5], "x");
        var w = g.Input(DType.Float32, [4, 2, 3, 3], "w");
        var b = g.Input(DType.Float32, [4], "b");
        var y = O.Conv2d(x, w, b, pads: [1, 1]);
        var r = g.Input(DType.Float32, y.Shape, "r");
        var gb = Autodiff.Grad(O.Sum(O.Mul(y, r)), b)[0];
        Assert.Equal("Conv2dBackwardBias", gb.Operation!.Name);
        var reference = O.Sum(r, [0, 2, 3]);
        var inputs = new (Node, Tensor)[]
        {
            (x, Tensor.FromArray(Values(150, 8, false), 3, 2, 5, 5)), (w, Tensor.FromArray(Values(72, 9, false), 4, 2, 3, 3)),
            (b, Tensor.FromArray(Values(4, 10, false), 4)), (r, Tensor.FromArray(Values(300, 11, false), 3, 4, 5, 5)),
        };
        var got = Run(g, gb, inputs);
        var expected = Run(g, reference, inputs);
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], got[i], 4);
    }
}
