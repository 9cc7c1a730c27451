using Tessera.Graphs;
using Xunit;
using static Tessera.Graphs.Ops;

namespace Tessera.Tests.Graphs;

/// <summary>
/// MatMul + per-column bias (+ Relu / Clip) → <see cref="FusedLinearOp"/>: one step, bit-for-bit the op-by-op
/// graph at batch sizes on both sides of the matrix-vector path (≤ 4 rows) and with every bias shape a Gemm import
/// or a hand-built graph produces; left alone when the product has another consumer or the added value is not a
/// per-column constant.
/// </summary>
public class LinearFusionTests
{
    private static Node Const(Graph g, int seed, params int[] shape) => g.Constant(Tensor.RandomNormal(seed, DType.Float32, 0, 0.5, shape));

    private static (float[] Plain, float[] Fused, string[] Ops) RunBoth(Graph g, Node x, Node y, Tensor input)
    {
        Graph.Let(x, input);
        using var plainMachine = new TapeMachine(g, y);
        plainMachine.RunAll();
        var plain = y.Value!.ToArray<float>();
        var fused = InferenceFusion.Fuse(g, [y], out var map);
        Graph.Let(map[x], input);
        using var fusedMachine = new TapeMachine(fused, map[y]);
        fusedMachine.RunAll();
        var needed = new HashSet<Node>();
        var stack = new Stack<Node>([map[y]]);
        while (stack.Count > 0) { var n = stack.Pop(); if (needed.Add(n)) foreach (var i in n.Inputs) stack.Push(i); }
        var ops = fused.Nodes.Where(n => n.Kind == NodeKind.Operation && needed.Contains(n)).Select(n => n.Operation!.Name).ToArray();
        return (plain, map[y].Value!.ToArray<float>(), ops);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(32)]
    public void Gemm_with_transposed_weight_bias_and_relu_is_one_exact_step(int batch)
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [-1, 300], "x");
        var w = Const(g, 1, 130, 300);                  // ONNX Gemm transB = 1: [out, in]
        var y = Relu(Add(MatMul(x, Transpose(w)), Const(g, 2, 130)));
        var (plain, fused, ops) = RunBoth(g, x, y, Tensor.RandomNormal(3, DType.Float32, 0, 1, batch, 300));
        Assert.Equal(["MatMul+Add+Relu"], ops);
        Assert.Equal(plain, fused);
    }

    [Fact]
    public void Bias_on_the_left_as_a_row_and_clip_fuse_with_a_row_major_weight()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [2, 3, 64], "x");      // batched left operand folds into the rows
        var y = g.Apply(new ClipOp(-0.5, 0.5), Add(Const(g, 4, 1, 1, 200), MatMul(x, Const(g, 5, 64, 200))));
        var (plain, fused, ops) = RunBoth(g, x, y, Tensor.RandomNormal(6, DType.Float32, 0, 1, 2, 3, 64));
        Assert.Equal(["MatMul+Add+Clip"], ops);
        Assert.Equal(plain, fused);
    }

    [Fact]
    public void Scalar_bias_broadcasts_over_the_columns()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [1, 50], "x");
        var y = Add(MatMul(x, Const(g, 7, 50, 2000)), Const(g, 8, 1));
        var (plain, fused, ops) = RunBoth(g, x, y, Tensor.RandomNormal(9, DType.Float32, 0, 1, 1, 50));
        Assert.Equal(["MatMul+Add"], ops);
        Assert.Equal(plain, fused);
    }

    [Fact]
    public void Shared_products_and_non_column_addends_are_left_alone()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [4, 8], "x");
        var p = MatMul(x, Const(g, 10, 8, 6));
        var y = Add(Add(p, Const(g, 11, 6)), p);                  // p has two consumers
        var (plain, fused, ops) = RunBoth(g, x, y, Tensor.RandomNormal(12, DType.Float32, 0, 1, 4, 8));
        Assert.DoesNotContain(ops, o => o.StartsWith("MatMul+", StringComparison.Ordinal));
        Assert.Equal(plain, fused);

        var g2 = new Graph();
        var x2 = g2.Input(DType.Float32, [4, 8], "x");
        var y2 = Add(MatMul(x2, Const(g2, 13, 8, 6)), Const(g2, 14, 4, 1));   // per-row, not per-column
        var (plain2, fused2, ops2) = RunBoth(g2, x2, y2, Tensor.RandomNormal(15, DType.Float32, 0, 1, 4, 8));
        Assert.Equal(["MatMul", "Add"], ops2);
        Assert.Equal(plain2, fused2);
    }
}
