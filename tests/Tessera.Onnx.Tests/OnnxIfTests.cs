using Google.Protobuf;
using Tessera.Onnx.Proto;
using static Tessera.Onnx.Tests.OnnxModelTests;

namespace Tessera.Onnx.Tests;

/// <summary>If with self-contained branches: run-time selection, and the cases it refuses by name.</summary>
public class OnnxIfTests
{
    private static GraphProto Branch(string name, float[] value, string? readsOuter = null)
    {
        var g = new GraphProto { Name = name };
        var node = new NodeProto { OpType = "Constant", Output = { name + "_c" } };
        node.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = OnnxTensors.FromTensor(Tensor.FromArray(value, value.Length), "") });
        g.Node.Add(node);
        if (readsOuter is null) g.Output.Add(Value(name + "_c", TensorProto.Types.DataType.Float, value.Length));
        else
        {
            g.Node.Add(new NodeProto { OpType = "Add", Input = { name + "_c", readsOuter }, Output = { name + "_sum" } });
            g.Output.Add(Value(name + "_sum", TensorProto.Types.DataType.Float, value.Length));
        }
        return g;
    }

    private static ModelProto IfModel(GraphProto then, GraphProto @else, int n)
    {
        var g = new GraphProto { Name = "if" };
        g.Input.Add(Value("cond", TensorProto.Types.DataType.Bool));
        g.Input.Add(Value("x", TensorProto.Types.DataType.Float, n));
        g.Output.Add(Value("y", TensorProto.Types.DataType.Float, n));
        var node = new NodeProto { OpType = "If", Name = "branch", Input = { "cond" }, Output = { "y" } };
        node.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = then });
        node.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = @else });
        g.Node.Add(node);
        var m = new ModelProto { IrVersion = 8, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return m;
    }

    [Fact]
    public void A_run_time_condition_selects_the_branch_each_run()
    {
        using var model = OnnxModel.Load(IfModel(Branch("then", [1, 2]), Branch("else", [-1, -2]), 2).ToByteArray());
        var x = Tensor.Zeros(DType.Float32, 2);
        Assert.Equal(new float[] { 1, 2 }, model.Run(new Dictionary<string, Tensor> { ["cond"] = Tensor.Scalar(true), ["x"] = x })["y"].ToArray<float>());
        Assert.Equal(new float[] { -1, -2 }, model.Run(new Dictionary<string, Tensor> { ["cond"] = Tensor.Scalar(false), ["x"] = x })["y"].ToArray<float>());
    }

    private static Dictionary<string, Tensor> Feed(bool cond, float[] x) =>
        new() { ["cond"] = Tensor.Scalar(cond), ["x"] = Tensor.FromArray(x, x.Length) };

    [Fact]
    public void Branches_read_the_enclosing_graph_at_run_time()
    {
        using var model = OnnxModel.Load(IfModel(Branch("then", [1, 2], "x"), Branch("else", [10, 20], "x"), 2).ToByteArray());
        Assert.Equal(new float[] { 4, 6 }, model.Run(Feed(true, [3, 4]))["y"].ToArray<float>());
        Assert.Equal(new float[] { 13, 24 }, model.Run(Feed(false, [3, 4]))["y"].ToArray<float>());
        Assert.Equal(new float[] { 9, 18 }, model.Run(Feed(false, [-1, -2]))["y"].ToArray<float>());
    }

    [Fact]
    public void Branches_of_different_shapes_give_the_taken_branch_shape()
    {
        using var model = OnnxModel.Load(IfModel(Branch("then", [1, 2]), Branch("else", [1, 2, 3]), 2).ToByteArray());
        Assert.Equal([2], model.Run(Feed(true, [0, 0]))["y"].ShapeArray());
        Assert.Equal(new float[] { 1, 2, 3 }, model.Run(Feed(false, [0, 0]))["y"].ToArray<float>());
    }

    [Fact]
    public void Only_the_taken_branch_runs()
    {
        // then_branch reshapes x (2 elements) to the shape input s: run with s = (5,) it would fail.
        var then = new GraphProto { Name = "then" };
        then.Node.Add(new NodeProto { OpType = "Reshape", Name = "bad", Input = { "x", "s" }, Output = { "r" } });
        then.Output.Add(Value("r", TensorProto.Types.DataType.Float, 2));
        var m = IfModel(then, Branch("else", [7, 8], "x"), 2);
        m.Graph.Input.Add(Value("s", TensorProto.Types.DataType.Int64, 1));
        using var model = OnnxModel.Load(m.ToByteArray());
        var feed = Feed(false, [1, 1]);
        feed["s"] = Tensor.FromArray(new long[] { 5 }, 1);
        Assert.Equal(new float[] { 8, 9 }, model.Run(feed)["y"].ToArray<float>());
        feed["cond"] = Tensor.Scalar(true);
        Assert.ThrowsAny<Exception>(() => model.Run(feed));
        feed["s"] = Tensor.FromArray(new long[] { 2 }, 1);
        Assert.Equal(new float[] { 1, 1 }, model.Run(feed)["y"].ToArray<float>());
    }
}
