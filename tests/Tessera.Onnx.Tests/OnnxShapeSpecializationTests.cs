using Google.Protobuf;
using Tessera.Graphs;
using Tessera.Onnx.Proto;
using static Tessera.Onnx.Tests.OnnxModelTests;

namespace Tessera.Onnx.Tests;

/// <summary>
/// Models exported with a dynamic batch compute their reshape targets at run time (Shape → Gather → Concat →
/// Reshape). The importer keeps what the static shapes say of those vectors (<see cref="ShapeValues"/>), and
/// <see cref="OnnxModel"/> imports a plan per concrete input shape in which they fold away entirely; results must
/// not change, with or without the specialization, and past its cap.
/// </summary>
public class OnnxShapeSpecializationTests
{
    /// <summary>ShuffleNet's channel shuffle as PyTorch exports it, then a 1×1 convolution and Relu: x (batch, 4, 2, 3).</summary>
    private static ModelProto ChannelShuffleConv()
    {
        var g = new GraphProto { Name = "shuffle" };
        g.Input.Add(Value("x", TensorProto.Types.DataType.Float, -1, 4, 2, 3));
        g.Output.Add(Value("z", TensorProto.Types.DataType.Float, -1, 3, 2, 3));
        void Const(string name, long[] v, params int[] shape) => g.Initializer.Add(OnnxTensors.FromTensor(Tensor.FromArray(v, shape), name));
        Const("i0", [0]); Const("i1", [1]); Const("i2", [2]); Const("i3", [3]);
        Const("two", [2]); Const("two1", [2], 1); Const("minus1", [-1], 1); Const("axes0", [0], 1);
        g.Initializer.Add(OnnxTensors.FromTensor(Tensor.FromArray(Weights, 3, 4, 1, 1), "W"));
        void Node(string op, string[] ins, string output, params AttributeProto[] attrs)
        {
            var n = new NodeProto { OpType = op, Name = output, Output = { output } };
            n.Input.Add(ins); n.Attribute.Add(attrs);
            g.Node.Add(n);
        }
        Node("Shape", ["x"], "s");
        Node("Gather", ["s", "i0"], "n"); Node("Gather", ["s", "i1"], "c"); Node("Gather", ["s", "i2"], "h"); Node("Gather", ["s", "i3"], "w");
        Node("Div", ["c", "two"], "half");
        foreach (var v in new[] { "n", "half", "h", "w" }) Node("Unsqueeze", [v, "axes0"], v + "_1");
        Node("Concat", ["n_1", "two1", "half_1", "h_1", "w_1"], "target1", new AttributeProto { Name = "axis", I = 0, Type = AttributeProto.Types.AttributeType.Int });
        Node("Reshape", ["x", "target1"], "r");
        Node("Transpose", ["r"], "t", new AttributeProto { Name = "perm", Ints = { 0, 2, 1, 3, 4 }, Type = AttributeProto.Types.AttributeType.Ints });
        Node("Concat", ["n_1", "minus1", "h_1", "w_1"], "target2", new AttributeProto { Name = "axis", I = 0, Type = AttributeProto.Types.AttributeType.Int });
        Node("Reshape", ["t", "target2"], "y");
        Node("Conv", ["y", "W"], "conv");
        Node("Relu", ["conv"], "z");
        var m = new ModelProto { IrVersion = 8, Graph = g, ProducerName = "tessera-tests" };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return m;
    }

    private static readonly float[] Weights = [1, -2, 0.5f, 3, -1, 1, 2, -0.5f, 0.25f, 4, -3, 1];

    /// <summary>By hand: the shuffle sends channel k to (k % 2)·2 + k / 2, i.e. reads x's channels 0, 2, 1, 3.</summary>
    private static float[] Expected(float[] x, int batch)
    {
        int[] source = [0, 2, 1, 3];
        var z = new float[batch * 3 * 6];
        for (int n = 0; n < batch; n++)
            for (int k = 0; k < 3; k++)
                for (int p = 0; p < 6; p++)
                {
                    float s = 0;
                    for (int c = 0; c < 4; c++) s += Weights[k * 4 + c] * x[(n * 4 + source[c]) * 6 + p];
                    z[(n * 3 + k) * 6 + p] = Math.Max(s, 0);
                }
        return z;
    }

    [Fact]
    public void Import_keeps_the_static_part_of_shapes_computed_at_run_time()
    {
        var m = ChannelShuffleConv();
        var imported = OnnxImporter.Import(m, OnnxImporter.ReadInitializers(m, null), null);
        var nodes = Reachable(imported.Outputs);
        // Gather(Shape(x), 1) is x's channel count: a constant, so Div folds away too.
        Assert.DoesNotContain(nodes, n => n.Operation is DivOp);
        var firstReshape = nodes.Single(n => n.Kind == NodeKind.Operation && n.Operation!.Name == "Reshape" && n.Inputs[0].Kind == NodeKind.Input);
        Assert.Equal([-1, 2, 2, 2, 3], firstReshape.Shape);
        // Specialized to a batch of 5 everything about shapes is known and folds.
        var five = OnnxImporter.Import(m, OnnxImporter.ReadInitializers(m, null), null, new Dictionary<string, int[]> { ["x"] = [5, 4, 2, 3] });
        var used = Reachable(five.Outputs);
        Assert.DoesNotContain(used, n => n.Operation is ShapeOfOp or GatherOp or ConcatOp);
        Assert.All(used.Where(n => n.Kind == NodeKind.Operation), n => Assert.True(n.Type.IsFullyKnown, $"{n.Operation!.Name}: {n.Type}"));
    }

    /// <summary>The nodes the outputs depend on (folding leaves the replaced nodes in the graph, unused).</summary>
    private static List<Node> Reachable(IEnumerable<Node> outputs)
    {
        var seen = new HashSet<Node>();
        var stack = new Stack<Node>(outputs);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (seen.Add(n)) foreach (var i in n.Inputs) stack.Push(i);
        }
        return [.. seen];
    }

    [Theory]
    [InlineData(8)]   // every batch size gets its own plan
    [InlineData(1)]   // the first does, later ones run on the declared-shape plan
    [InlineData(0)]   // off
    public void Results_agree_with_the_hand_computed_shuffle_at_every_batch(int maxSpecializations)
    {
        using var model = OnnxModel.Load(ChannelShuffleConv().ToByteArray());
        model.MaxShapeSpecializations = maxSpecializations;
        foreach (int batch in new[] { 1, 3, 1, 2, 3 })
        {
            var x = Tensor.RandomNormal(batch, DType.Float32, 0, 1, batch, 4, 2, 3);
            var z = model.Run(new Dictionary<string, Tensor> { ["x"] = x })["z"];
            Assert.Equal([batch, 3, 2, 3], z.ShapeArray());
            AssertClose(Expected(x.ToArray<float>(), batch), z.ToArray<float>());
        }
    }

    [Fact]
    public void A_specialized_plan_runs_no_shape_arithmetic()
    {
        var feed = new Dictionary<string, Tensor> { ["x"] = Tensor.RandomNormal(7, DType.Float32, 0, 1, 2, 4, 2, 3) };
        using var specialized = OnnxModel.Load(ChannelShuffleConv().ToByteArray());
        using var declared = OnnxModel.Load(ChannelShuffleConv().ToByteArray());
        declared.MaxShapeSpecializations = 0;
        Assert.Contains("Shape", declared.Profile(feed, 1).Keys);
        Assert.DoesNotContain("Shape", specialized.Profile(feed, 1).Keys);
        Assert.DoesNotContain("Concat", specialized.Profile(feed, 1).Keys);
    }
}
