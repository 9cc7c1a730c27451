using Tessera.Graphs;
using Xunit;
using static Tessera.Graphs.Ops;

namespace Tessera.Tests.Graphs;

/// <summary>
/// The channel-blocked rewrite of inference graphs: same outputs as the graph as built (within float rounding),
/// conversions only where a blocked value meets an op that needs NCHW, packed weights shared between rewrites of
/// the same constants, and a residual that broadcasts over the batch at run time still handled.
/// </summary>
public class NchwcLayoutTests
{
    private static Node Const(Graph g, int seed, params int[] shape) => g.Constant(Tensor.RandomNormal(seed, DType.Float32, 0, 0.3, shape));

    private static float[] Run(Graph g, Node x, Node y, Tensor input)
    {
        Graph.Let(x, input);
        using var machine = new TapeMachine(g, y);
        machine.RunAll();
        return y.Value!.ToArray<float>();
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * (1 + Math.Abs(expected[i])), $"element {i}: {actual[i]} vs {expected[i]}");
    }

    /// <summary>stem (RGB) → max-pool → conv → residual conv → depthwise → channel concat → global average pool → [N, 64].</summary>
    private static (Graph G, Node X, Node Y) Network()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [-1, 3, 20, 18], "x");
        var a = Relu(Conv2d(x, Const(g, 1, 16, 3, 3, 3), Const(g, 2, 16), strides: [2, 2], pads: [1, 1, 1, 1]));
        var p = MaxPool2d(a, [3, 3], [2, 2], [1, 1, 1, 1]);
        var b = Relu(Conv2d(p, Const(g, 3, 16, 16, 3, 3), Const(g, 4, 16), pads: [1, 1, 1, 1]));
        var c = Relu(Add(Conv2d(b, Const(g, 5, 16, 16, 3, 3), Const(g, 6, 16), pads: [1, 1, 1, 1]), p));
        var d = Relu(Conv2d(c, Const(g, 7, 16, 1, 3, 3), Const(g, 8, 16), pads: [1, 1, 1, 1], groups: 16));
        var e = Concat(1, c, Conv2d(d, Const(g, 9, 48, 16, 1, 1)));
        return (g, x, Mean(e, [2, 3]));
    }

    [Fact]
    public void Network_gives_the_outputs_of_the_graph_as_built_and_converts_once()
    {
        var (g, x, y) = Network();
        var input = Tensor.RandomNormal(11, DType.Float32, 0, 1, 2, 3, 20, 18);
        var expected = Run(g, x, y, input);
        var fused = InferenceFusion.Fuse(g, [y], out var fmap);
        var blocked = NchwcLayout.Apply(fused, [fmap[y]], out var bmap);
        AssertClose(expected, Run(blocked, bmap[fmap[x]], bmap[fmap[y]], input));
        var ops = blocked.Nodes.Where(n => n.Kind == NodeKind.Operation).Select(n => n.Operation!.Name).ToList();
        Assert.Equal(["NchwcConv+Relu", "NchwcMaxPool", "NchwcConv+Relu", "NchwcConv+Add+Relu", "NchwcDepthwiseConv+Relu", "NchwcConv", "Concat", "NchwcGlobalAveragePool"], ops);
    }

    [Fact]
    public void Activations_residuals_and_channel_scales_stay_blocked()
    {
        // conv → sigmoid (conv output used twice, so not fused) → squeeze-and-excitation scale (Mul by [N, C, 1, 1])
        // → + the conv output (a residual add the fusion does not take) → conv; Log would make the padding channels
        // infinite, so it must leave the blocked layout.
        var g = new Graph();
        var x = g.Input(DType.Float32, [-1, 20, 9, 9], "x");
        var c = Conv2d(x, Const(g, 1, 24, 20, 3, 3), Const(g, 2, 24), pads: [1, 1, 1, 1]);
        var s = Sigmoid(c);
        var se = Sigmoid(Mean(s, [2, 3], keepDims: true));
        var y = Conv2d(Add(Mul(s, se), c), Const(g, 3, 8, 24, 1, 1));
        var z = Log(Add(Abs(y), g.Constant(1, DType.Float32)));
        var input = Tensor.RandomNormal(12, DType.Float32, 0, 1, 2, 20, 9, 9);
        var expected = Run(g, x, z, input);
        var blocked = NchwcLayout.Apply(g, [z], out var map);
        AssertClose(expected, Run(blocked, map[x], map[z], input));
        var ops = blocked.Nodes.Where(n => n.Kind == NodeKind.Operation).Select(n => n.Operation!.Name).ToList();
        Assert.Equal(["ToNchwc", "NchwcConv", "Sigmoid", "NchwcGlobalAveragePool", "Sigmoid", "ToNchwc", "NchwcChannelScale", "Add", "NchwcConv", "Abs", "FromNchwc", "Add", "Log"], ops);
    }

    [Fact]
    public void Densenet_transition_pools_and_pre_activation_batch_norms_stay_blocked()
    {
        // conv → average pool (a densenet transition) → concat → per-channel scale and shift, Relu (a pre-activation
        // batch norm) → conv: the pool and the channel ops keep the blocked layout (their constants blocked once, at
        // rewrite time), so nothing is converted between the convolutions.
        var g = new Graph();
        var x = g.Input(DType.Float32, [-1, 16, 10, 10], "x");
        var t = Conv2d(x, Const(g, 1, 32, 16, 1, 1));
        var p = AvgPool2d(t, [2, 2], [2, 2]);
        var cat = Concat(1, p, Conv2d(p, Const(g, 2, 16, 32, 3, 3), pads: [1, 1, 1, 1]));
        var pre = Relu(Add(Mul(cat, Const(g, 3, 48, 1, 1)), Const(g, 4, 1, 48, 1, 1)));   // [C, 1, 1] as imported, and 4-D
        var y = Conv2d(pre, Const(g, 5, 8, 48, 1, 1));
        var input = Tensor.RandomNormal(13, DType.Float32, 0, 1, 2, 16, 10, 10);
        var expected = Run(g, x, y, input);
        var blocked = NchwcLayout.Apply(g, [y], out var map);
        AssertClose(expected, Run(blocked, map[x], map[y], input));
        var needed = new HashSet<Node>();
        var stack = new Stack<Node>([map[y]]);
        while (stack.Count > 0) { var n = stack.Pop(); if (needed.Add(n)) foreach (var i in n.Inputs) stack.Push(i); }
        var ops = blocked.Nodes.Where(n => n.Kind == NodeKind.Operation && needed.Contains(n)).Select(n => n.Operation!.Name).ToList();
        Assert.Equal(["ToNchwc", "NchwcConv", "NchwcAvgPool", "NchwcConv", "Concat", "NchwcChannelAffine", "Relu", "NchwcConv", "FromNchwc"], ops);

        // The scale also read elsewhere, or a shift that is not per channel: Mul and Add stay separate (still blocked).
        var g2 = new Graph();
        var x2 = g2.Input(DType.Float32, [-1, 16, 6, 6], "x");
        var c2 = Conv2d(x2, Const(g2, 6, 32, 16, 1, 1));
        var scaled = Mul(c2, Const(g2, 7, 32, 1, 1));
        var y2 = Add(Add(scaled, Const(g2, 8, 1, 32, 6, 6)), scaled);
        var input2 = Tensor.RandomNormal(14, DType.Float32, 0, 1, 2, 16, 6, 6);   // a constant scale serves both images
        var expected2 = Run(g2, x2, y2, input2);
        var blocked2 = NchwcLayout.Apply(g2, [y2], out var map2);
        AssertClose(expected2, Run(blocked2, map2[x2], map2[y2], input2));
        var ops2 = blocked2.Nodes.Where(n => n.Kind == NodeKind.Operation).Select(n => n.Operation!.Name).ToList();
        Assert.DoesNotContain("NchwcChannelAffine", ops2);
        Assert.Contains("NchwcChannelScale", ops2);
    }

    [Fact]
    public void Fire_module_expands_write_into_their_concat_without_a_copy()
    {
        // squeezenet's fire module: squeeze 1×1 → (expand 1×1, expand 3×3) → channel concat → next squeeze.
        var g = new Graph();
        var x = g.Input(DType.Float32, [-1, 24, 11, 10], "x");
        var sq = Relu(Conv2d(x, Const(g, 1, 16, 24, 1, 1), Const(g, 2, 16)));
        var e1 = Relu(Conv2d(sq, Const(g, 3, 32, 16, 1, 1), Const(g, 4, 32)));
        var e3 = Relu(Conv2d(sq, Const(g, 5, 48, 16, 3, 3), Const(g, 6, 48), pads: [1, 1, 1, 1]));
        var y = Conv2d(Concat(1, e1, e3), Const(g, 7, 16, 80, 1, 1));
        var input = Tensor.RandomNormal(13, DType.Float32, 0, 1, 2, 24, 11, 10);
        var expected = Run(g, x, y, input);
        var fused = InferenceFusion.Fuse(g, [y], out var fmap);
        var blocked = NchwcLayout.Apply(fused, [fmap[y]], out var bmap);
        AssertClose(expected, Run(blocked, bmap[fmap[x]], bmap[fmap[y]], input));
        var used = Used(bmap[fmap[y]]).Select(n => n.Operation!.Name).ToList();
        Assert.Equal(["FromNchwc", "NchwcConcatConv", "NchwcConv", "NchwcConv+Relu", "ToNchwc"], used.Order(StringComparer.Ordinal));
    }

    /// <summary>The operation nodes the output depends on.</summary>
    private static List<Node> Used(Node output)
    {
        var seen = new HashSet<Node>();
        var stack = new Stack<Node>([output]);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!seen.Add(n)) continue;
            foreach (var i in n.Inputs) stack.Push(i);
        }
        return [.. seen.Where(n => n.Kind == NodeKind.Operation)];
    }

    [Fact]
    public void Rewrites_of_the_same_constants_share_one_packing()
    {
        var (g, _, y) = Network();
        var a = NchwcLayout.Apply(g, [y], out _);
        var b = NchwcLayout.Apply(g, [y], out _);
        var wa = a.Nodes.Select(n => n.Operation).OfType<NchwcConv2dOp>().Select(o => o.Weights).ToList();
        var wb = b.Nodes.Select(n => n.Operation).OfType<NchwcConv2dOp>().Select(o => o.Weights).ToList();
        Assert.Equal(4, wa.Count);
        for (int i = 0; i < wa.Count; i++) Assert.Same(wa[i], wb[i]);
    }

    [Fact]
    public void Residual_that_broadcasts_over_the_batch_at_run_time_is_still_added()
    {
        var g = new Graph();
        var x = g.Input(DType.Float32, [-1, 5, 6, 6], "x");
        var r = g.Input(DType.Float32, [-1, 20, 6, 6], "r");
        var y = Relu(Add(Conv2d(x, Const(g, 1, 20, 5, 3, 3), Const(g, 2, 20), pads: [1, 1, 1, 1]), r));
        var xv = Tensor.RandomNormal(3, DType.Float32, 0, 1, 3, 5, 6, 6);
        var rv = Tensor.RandomNormal(4, DType.Float32, 0, 1, 1, 20, 6, 6);
        Graph.Let(r, rv);
        var expected = Run(g, x, y, xv);
        var fused = InferenceFusion.Fuse(g, [y], out var fmap);
        var blocked = NchwcLayout.Apply(fused, [fmap[y]], out var bmap);
        Assert.Contains(blocked.Nodes, n => n.Operation is NchwcConv2dOp { HasResidual: true });
        Graph.Let(bmap[fmap[r]], rv);
        AssertClose(expected, Run(blocked, bmap[fmap[x]], bmap[fmap[y]], xv));
    }

    [Fact]
    public void Blocked_input_of_the_wrong_channel_count_names_both_shapes()
    {
        var op = new FromNchwcOp(40);
        var ex = Assert.Throws<ShapeMismatchException>(() => op.InferType([new TensorType(DType.Float32, [1, 2, 4, 4, 16])]));
        Assert.Contains("(1, 2, 4, 4, 16)", ex.Message);
        Assert.Contains("40 channels", ex.Message);
    }
}
