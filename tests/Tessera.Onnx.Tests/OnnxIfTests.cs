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

    [Fact]
    public void Branches_reading_the_enclosing_graph_are_refused_by_name()
    {
        var e = Assert.Throws<OnnxUnsupportedException>(() => OnnxModel.Load(IfModel(Branch("then", [1, 2], "x"), Branch("else", [0, 0]), 2).ToByteArray()));
        Assert.Contains("then_branch reading 'x'", e.Message);
    }

    [Fact]
    public void Branches_of_different_shapes_need_a_constant_condition()
    {
        var e = Assert.Throws<OnnxUnsupportedException>(() => OnnxModel.Load(IfModel(Branch("then", [1, 2]), Branch("else", [1, 2, 3]), 2).ToByteArray()));
        Assert.Contains("differs in type", e.Message);
    }
}
