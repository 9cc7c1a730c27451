using Tessera.Graphs;
using Xunit;
using static Tessera.Graphs.Ops;

namespace Tessera.Tests.Graphs;

public class InferenceFusionTests
{
    private static Node Const(Graph g, int seed, params int[] shape) => g.Constant(Tensor.RandomNormal(seed, DType.Float32, 0, 0.5, shape));

    /// <summary>Runs the graph as built and after fusion on the same input; returns both outputs and the fused op names.</summary>
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
        var ops = fused.Nodes.Where(n => n.Kind == NodeKind.Operation && Needed(map[y]).Contains(n)).Select(n => n.Operation!.Name).ToArray();
        return (plain, map[y].Value!.ToArray<float>(), ops);
    }

    private static HashSet<Node> Needed(Node output)
    {
        var seen = new HashSet<Node>();
        var stack = new Stack<Node>();
        stack.Push(output);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (seen.Add(n)) foreach (var i in n.Inputs) stack.Push(i);
        }
        return seen;
    }

    private static void AssertClose(float[] expected, float[] actual, double tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"element {i}: {actual[i]} vs unfused {expected[i]}");
    }

    [Fact]
    public void Residual_block_fuses_to_conv_relu_and_conv_add_relu_with_identical_outputs()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [-1, 4, 12, 12], "x");
        var a = Relu(Conv2d(x, Const(g, 1, 4, 4, 3, 3), Const(g, 2, 4), pads: [1, 1, 1, 1]));
        var b = Conv2d(a, Const(g, 3, 4, 4, 3, 3), Const(g, 4, 4), pads: [1, 1, 1, 1]);
        var y = Relu(Add(b, x));
        var (plain, fused, ops) = RunBoth(g, x, y, Tensor.RandomNormal(5, DType.Float32, 0, 1, 2, 4, 12, 12));
        Assert.Equal(["Conv2d+Relu", "Conv2d+Add+Relu"], ops);
        AssertClose(plain, fused, 0);   // same primitives in the same order: bit for bit
    }

    [Fact]
    public void Residual_on_the_left_and_clip_fuse_too()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [2, 3, 10, 9], "x");
        var c = Conv2d(x, Const(g, 1, 3, 1, 3, 3), null, pads: [1, 1, 1, 1], groups: 3);   // depthwise, no bias
        var y = g.Apply(new ClipOp(0, 0.75), Add(x, c));
        var (plain, fused, ops) = RunBoth(g, x, y, Tensor.RandomNormal(6, DType.Float32, 0, 1, 2, 3, 10, 9));
        Assert.Equal(["Conv2d+Add+Clip"], ops);
        AssertClose(plain, fused, 0);
    }

    [Fact]
    public void Batch_norm_as_per_channel_multiply_add_folds_into_the_weights()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [1, 3, 9, 9], "x");
        var conv = Conv2d(x, Const(g, 1, 5, 3, 3, 3), Const(g, 2, 5), strides: [2, 2], pads: [1, 1, 1, 1]);
        // What the importer emits for BatchNormalization: x·s + shift with (C, 1, 1) constants.
        var scaled = Mul(conv, Const(g, 3, 5, 1, 1));
        var y = Relu(Add(scaled, Const(g, 4, 5, 1, 1)));
        var (plain, fused, ops) = RunBoth(g, x, y, Tensor.RandomNormal(7, DType.Float32, 0, 1, 1, 3, 9, 9));
        Assert.Equal(["Conv2d+Relu"], ops);
        AssertClose(plain, fused, 1e-5);   // weights folded: rounding differs slightly
    }

    [Fact]
    public void Values_with_other_consumers_or_graph_outputs_are_not_fused()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [1, 2, 6, 6], "x");
        var conv = Conv2d(x, Const(g, 1, 2, 2, 3, 3), Const(g, 2, 2), pads: [1, 1, 1, 1]);
        var y = Add(Relu(conv), Mul(conv, Const(g, 3, 2, 1, 1)));   // conv feeds two ops
        var (plain, fused, ops) = RunBoth(g, x, y, Tensor.RandomNormal(8, DType.Float32, 0, 1, 1, 2, 6, 6));
        Assert.Contains("Relu", ops);
        Assert.Contains("Mul", ops);
        Assert.Contains("Conv2d", ops);
        AssertClose(plain, fused, 0);

        var g2 = new Graph();
        var x2 = g2.Input(DType.Float32, [1, 2, 6, 6], "x");
        var c2 = Conv2d(x2, Const(g2, 1, 2, 2, 3, 3));
        var r2 = Relu(c2);
        var fused2 = InferenceFusion.Fuse(g2, [c2, r2], out var map);   // the conv's own value is an output
        Assert.IsType<Conv2dOp>(map[c2].Operation);
        Assert.IsType<ReluOp>(map[r2].Operation);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Silu_is_one_step_unless_the_sigmoid_is_read_elsewhere(bool sigmoidReadElsewhere)
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [-1, 4097], "x");   // a chunk and a bit: both paths of the chunked loop
        var s = Sigmoid(x);
        var silu = Mul(s, x);
        var y = sigmoidReadElsewhere ? Add(silu, s) : silu;
        var input = Tensor.RandomNormal(9, DType.Float32, 0, 3, 3, 4097);
        var (plain, fused, ops) = RunBoth(g, x, y, input);
        AssertClose(plain, fused, 1e-6);
        Assert.Equal(!sigmoidReadElsewhere, ops.Contains("Silu"));
        Assert.Equal(sigmoidReadElsewhere, ops.Contains("Sigmoid"));
    }

    [Fact]
    public void Copies_of_a_fused_graph_share_one_packing_of_constant_weights()
    {
        // Grouped (not depthwise) so the convolution stays on the GEMM path that packs its weights.
        var g = new Graph();
        var x = g.Input(DType.Float32, [1, 4, 6, 6], "x");
        var y = Relu(Conv2d(x, Const(g, 1, 6, 2, 3, 3), Const(g, 2, 6), pads: [1, 1, 1, 1], groups: 2));
        var input = Tensor.RandomNormal(5, DType.Float32, 0, 1, 1, 4, 6, 6);
        var packs = new List<object?>();
        var outputs = new List<float[]>();
        for (int copy = 0; copy < 2; copy++)   // as a model's pooled instances or its per-shape plans
        {
            var fused = InferenceFusion.Fuse(g, [y], out var map);
            var op = Assert.IsType<FusedConv2dOp>(map[y].Operation);
            Graph.Let(map[x], input);
            using var machine = new TapeMachine(fused, map[y]);
            machine.RunAll();
            packs.Add(op.PackedOperands);
            outputs.Add(map[y].Value!.ToArray<float>());
        }
        Assert.NotNull(packs[0]);
        Assert.Same(packs[0], packs[1]);
        Assert.Equal(outputs[0], outputs[1]);
    }

    [Fact]
    public void Residual_that_broadcasts_at_run_time_falls_back_to_the_unfused_sequence()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [-1, 2, 5, 5], "x");
        var r = g.Input(DType.Float32, [-1, 3, 5, 5], "r");
        var y = Relu(Add(Conv2d(x, Const(g, 1, 3, 2, 3, 3), Const(g, 2, 3), pads: [1, 1, 1, 1]), r));
        var fused = InferenceFusion.Fuse(g, [y], out var map);
        Assert.IsType<FusedConv2dOp>(map[y].Operation);

        // Equal build-time shapes, but the residual's batch is 1 at run time: Add broadcasts it over the batch.
        var xv = Tensor.RandomNormal(3, DType.Float32, 0, 1, 3, 2, 5, 5);
        var rv = Tensor.RandomNormal(4, DType.Float32, 0, 1, 1, 3, 5, 5);
        Graph.Let(x, xv); Graph.Let(r, rv);
        using var plain = new TapeMachine(g, y);
        plain.RunAll();
        Graph.Let(map[x], xv); Graph.Let(map[r], rv);
        using var machine = new TapeMachine(fused, map[y]);
        machine.RunAll();
        Assert.Equal([3, 3, 5, 5], map[y].Value!.ShapeArray());
        AssertClose(y.Value!.ToArray<float>(), map[y].Value!.ToArray<float>(), 0);
    }

    [Fact]
    public void Random_chains_of_conv_add_relu_clip_match_the_unfused_graph()
    {
        for (int seed = 0; seed < 20; seed++)
        {
            var rng = new Random(seed);
            var g = new Graph();
            int c = rng.Next(1, 5), h = rng.Next(5, 14);
            var x = g.Input(DType.Float32, [2, c, h, h], "x");
            var v = x;
            var earlier = new List<Node> { x };
            for (int layer = 0; layer < 6; layer++)
            {
                bool depthwise = rng.Next(3) == 0;
                var w = Const(g, seed * 100 + layer, c, depthwise ? 1 : c, 3, 3);
                Node y = Conv2d(v, w, rng.Next(2) == 0 ? Const(g, seed * 100 + 50 + layer, c) : null, pads: [1, 1, 1, 1], groups: depthwise ? c : 1);
                if (rng.Next(2) == 0) y = rng.Next(2) == 0 ? Add(y, earlier[rng.Next(earlier.Count)]) : Add(earlier[rng.Next(earlier.Count)], y);
                y = rng.Next(3) switch { 0 => Relu(y), 1 => g.Apply(new ClipOp(-0.5, 1), y), _ => y };
                if (rng.Next(4) == 0) y = Add(y, Relu(y));   // a value with two consumers
                earlier.Add(y);
                v = y;
            }
            var (plain, fused, ops) = RunBoth(g, x, v, Tensor.RandomNormal(seed, DType.Float32, 0, 1, 2, c, h, h));
            AssertClose(plain, fused, 0);
            Assert.Contains(ops, o => o.StartsWith("Conv2d+", StringComparison.Ordinal) || o == "Conv2d");
        }
    }
}
