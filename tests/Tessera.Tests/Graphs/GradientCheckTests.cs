using Tessera.Graphs;
using static Tessera.Tests.Graphs.GradientChecker;
using O = Tessera.Graphs.Ops;

namespace Tessera.Tests.Graphs;

/// <summary>Every differentiable op: symbolic gradient vs central finite differences in float64.</summary>
public class GradientCheckTests
{
    public sealed record Case(string Name, Func<Node[], Node> Build, Func<Tensor[]> Inputs, bool SecondOrder = false, double H = 1e-6, double Tolerance = 1e-6)
    {
        public override string ToString() => Name;
    }

    private static Tensor I64(long[] v, params int[] shape) => Tensor.FromArray(v, shape);

    public static readonly Case[] Cases =
    [
        new("add_broadcast", x => O.Add(x[0], x[1]), () => [Rand(1, -2, 2, 3, 4), Rand(2, -2, 2, 4)], true),
        new("sub_broadcast", x => O.Sub(x[0], x[1]), () => [Rand(1, -2, 2, 2, 1, 4), Rand(2, -2, 2, 3, 1)], true),
        new("mul_broadcast", x => O.Mul(x[0], x[1]), () => [Rand(1, -2, 2, 3, 4), Rand(2, -2, 2, 3, 1)], true),
        new("div", x => O.Div(x[0], x[1]), () => [Rand(1, -2, 2, 3, 4), RandAwayFromZero(2, 0.5, 2, 3, 4)], true),
        new("pow", x => O.Pow(x[0], x[1]), () => [Rand(1, 0.5, 2, 3, 4), Rand(2, -1.5, 2, 3, 4)], true),
        new("maximum", x => O.Maximum(x[0], x[1]), () => [Rand(1, -2, 2, 3, 4), Rand(2, -2, 2, 3, 4)], true),
        new("minimum", x => O.Minimum(x[0], x[1]), () => [Rand(1, -2, 2, 3, 4), Rand(2, -2, 2, 4)], true),
        new("neg", x => O.Neg(x[0]), () => [Rand(1, -2, 2, 3, 4)], true),
        new("abs", x => O.Abs(x[0]), () => [RandAwayFromZero(1, 0.1, 2, 3, 4)], true),
        new("square", x => O.Square(x[0]), () => [Rand(1, -2, 2, 3, 4)], true),
        new("exp", x => O.Exp(x[0]), () => [Rand(1, -2, 2, 3, 4)], true),
        new("log", x => O.Log(x[0]), () => [Rand(1, 0.2, 3, 3, 4)], true),
        new("sqrt", x => O.Sqrt(x[0]), () => [Rand(1, 0.2, 3, 3, 4)], true),
        new("reciprocal", x => O.Reciprocal(x[0]), () => [RandAwayFromZero(1, 0.5, 2, 3, 4)], true),
        new("tanh", x => O.Tanh(x[0]), () => [Rand(1, -2, 2, 3, 4)], true),
        new("sigmoid", x => O.Sigmoid(x[0]), () => [Rand(1, -3, 3, 3, 4)], true),
        new("relu", x => O.Relu(x[0]), () => [RandAwayFromZero(1, 0.1, 2, 3, 4)], true),
        new("relu_grad", x => O.ReluGrad(x[0], x[1]), () => [Rand(1, -2, 2, 3, 4), RandAwayFromZero(2, 0.1, 2, 3, 4)], true),
        new("relu_grad_broadcast", x => O.ReluGrad(x[0], x[1]), () => [Rand(1, -2, 2, 3, 4), RandAwayFromZero(2, 0.1, 2, 4)], true),
        new("leaky_relu", x => O.LeakyRelu(x[0], 0.1), () => [RandAwayFromZero(1, 0.1, 2, 3, 4)], true),
        new("sin", x => O.Sin(x[0]), () => [Rand(1, -3, 3, 3, 4)], true),
        new("cos", x => O.Cos(x[0]), () => [Rand(1, -3, 3, 3, 4)], true),
        new("softplus", x => O.Softplus(x[0]), () => [Rand(1, -3, 3, 3, 4)], true),
        new("erf", x => O.Erf(x[0]), () => [Rand(1, -3, 3, 3, 4)], true),
        new("gelu", x => O.Gelu(x[0]), () => [Rand(1, -3, 3, 3, 4)], true),
        new("where", x => O.Where(O.Greater(x[0], x[1]), x[0], x[1]), () => [Rand(1, -2, 2, 3, 4), Rand(2, -2, 2, 4)]),
        new("cast_roundtrip", x => O.Cast(O.Mul(O.Cast(x[0], DType.Float32), O.Cast(x[0], DType.Float32)), DType.Float64), () => [Rand(1, -2, 2, 3)], H: 1e-2, Tolerance: 1e-4), // float32 rounding limits the difference quotient
        new("sum_all", x => O.Sum(x[0]), () => [Rand(1, -2, 2, 2, 3, 4)], true),
        new("sum_axis1", x => O.Sum(x[0], [1]), () => [Rand(1, -2, 2, 2, 3, 4)], true),
        new("sum_axes02_keep", x => O.Sum(x[0], [0, 2], keepDims: true), () => [Rand(1, -2, 2, 2, 3, 4)], true),
        new("mean_axis_last", x => O.Mean(x[0], [-1]), () => [Rand(1, -2, 2, 2, 3, 4)], true),
        new("max_axis1", x => O.Max(x[0], [1]), () => [Rand(1, -2, 2, 2, 3, 4)]),
        new("min_all", x => O.Min(x[0]), () => [Rand(1, -2, 2, 2, 3, 4)]),
        new("prod_axis2", x => O.Prod(x[0], [2]), () => [Rand(1, 0.5, 1.5, 2, 3, 4)]),
        new("logsumexp_axis1", x => O.LogSumExp(x[0], [1]), () => [Rand(1, -2, 2, 2, 3, 4)], true),
        new("softmax_last", x => O.Softmax(x[0], -1), () => [Rand(1, -2, 2, 3, 5)], true),
        new("softmax_axis1", x => O.Softmax(x[0], 1), () => [Rand(1, -2, 2, 2, 3, 4)]),
        new("log_softmax", x => O.LogSoftmax(x[0], -1), () => [Rand(1, -2, 2, 3, 5)], true),
        new("matmul", x => O.MatMul(x[0], x[1]), () => [Rand(1, -1, 1, 3, 4), Rand(2, -1, 1, 4, 5)], true),
        new("matmul_batched_broadcast", x => O.MatMul(x[0], x[1]), () => [Rand(1, -1, 1, 2, 1, 3, 4), Rand(2, -1, 1, 3, 4, 2)], true),
        new("matmul_vector_matrix", x => O.MatMul(x[0], x[1]), () => [Rand(1, -1, 1, 4), Rand(2, -1, 1, 4, 3)], true),
        new("matmul_transposed_view", x => O.MatMul(O.Transpose(x[0]), x[1]), () => [Rand(1, -1, 1, 4, 3), Rand(2, -1, 1, 4, 2)], true),
        new("matmul_transposed_right", x => O.MatMul(x[0], O.Transpose(x[1])), () => [Rand(1, -1, 1, 3, 4), Rand(2, -1, 1, 5, 4)], true),
        new("matmul_both_transposed", x => O.MatMul(O.Transpose(x[0]), O.Transpose(x[1])), () => [Rand(1, -1, 1, 4, 3), Rand(2, -1, 1, 5, 4)], true),
        new("reshape", x => O.Reshape(x[0], 4, -1), () => [Rand(1, -2, 2, 2, 3, 2)], true),
        new("permute", x => O.Permute(x[0], 2, 0, 1), () => [Rand(1, -2, 2, 2, 3, 4)], true),
        new("expand", x => O.Mul(O.Expand(x[0], 2, 3, 4), O.Expand(x[0], 2, 3, 4)), () => [Rand(1, -2, 2, 3, 1)], true),
        new("unsqueeze_squeeze", x => O.Squeeze(O.Unsqueeze(x[0], 0, 3), 0), () => [Rand(1, -2, 2, 2, 3)], true),
        new("slice_step", x => O.Slice(x[0], 1, 1, 6, 2), () => [Rand(1, -2, 2, 2, 7)], true),
        new("concat", x => O.Concat(1, x[0], x[1], x[0]), () => [Rand(1, -2, 2, 2, 3), Rand(2, -2, 2, 2, 1)], true),
        new("split", x => O.Mul(O.Split(x[0], 0, 1, 2)[1], O.Split(x[0], 0, 2, 1)[0]), () => [Rand(1, -2, 2, 3, 2)]),
        new("gather", x => O.Gather(x[0], x[1], 1), () => [Rand(1, -2, 2, 2, 4), I64([3, -4, 3, 1], 2, 2)], true),
        new("pad", x => O.Pad(x[0], [1, 0, 2, 3], 1.5), () => [Rand(1, -2, 2, 2, 3)], true),
        new("conv2d_bias", x => O.Conv2d(x[0], x[1], x[2], pads: [1, 1]), () => [Rand(1, -1, 1, 2, 3, 5, 5), Rand(2, -1, 1, 4, 3, 3, 3), Rand(3, -1, 1, 4)], true),
        new("conv2d_stride_dilation_asym_pad", x => O.Conv2d(x[0], x[1], strides: [2, 1], pads: [1, 0, 0, 2], dilations: [1, 2]), () => [Rand(1, -1, 1, 1, 2, 6, 7), Rand(2, -1, 1, 3, 2, 2, 3)], true),
        new("conv2d_groups", x => O.Conv2d(x[0], x[1], groups: 2), () => [Rand(1, -1, 1, 2, 4, 4, 4), Rand(2, -1, 1, 6, 2, 2, 2)], true),
        new("conv2d_depthwise", x => O.Conv2d(x[0], x[1], pads: [1, 1], groups: 3), () => [Rand(1, -1, 1, 1, 3, 5, 5), Rand(2, -1, 1, 3, 1, 3, 3)], true),
        new("max_pool2d", x => O.MaxPool2d(x[0], [2, 2], pads: [1, 1]), () => [Rand(1, -2, 2, 2, 2, 5, 5)]),
        new("relu_max_pool2d_fused", x => O.MaxPool2d(O.Relu(x[0]), [2, 2], [2, 2]), () => [RandAwayFromZero(1, 0.1, 2, 2, 2, 6, 7)]),
        new("avg_pool2d_include_pad", x => O.AvgPool2d(x[0], [3, 3], [2, 2], [1, 1], countIncludePad: true), () => [Rand(1, -2, 2, 2, 2, 5, 6)], true),
        new("avg_pool2d_exclude_pad", x => O.AvgPool2d(x[0], [2, 3], [1, 2], [1, 1]), () => [Rand(1, -2, 2, 1, 2, 4, 5)], true),
        new("global_avg_pool", x => O.GlobalAvgPool2d(x[0]), () => [Rand(1, -2, 2, 2, 3, 3, 4)], true),
    ];

    public static TheoryData<string> All() => [.. Cases.Select(c => c.Name)];
    public static TheoryData<string> SecondOrder() => [.. Cases.Where(c => c.SecondOrder).Select(c => c.Name)];
    private static Case Find(string name) => Cases.Single(c => c.Name == name);

    [Theory, MemberData(nameof(All))]
    public void Gradient_matches_finite_differences(string name)
    {
        var c = Find(name);
        double err = MaxError(c.Build, c.Inputs(), c.H);
        Assert.True(err < c.Tolerance, $"{c.Name}: max relative error {err:E3}");
    }

    [Theory, MemberData(nameof(SecondOrder))]
    public void Second_order_gradient_matches_finite_differences(string name)
    {
        var c = Find(name);
        double err = MaxError(c.Build, c.Inputs(), order: 2);
        Assert.True(err < 1e-5, $"{c.Name}: max relative error {err:E3}");
    }
}
