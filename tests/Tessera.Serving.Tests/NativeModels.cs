using Google.Protobuf;
using Tessera.Onnx.Proto;

namespace Tessera.Serving.Tests;

/// <summary>
/// Writes Triton's <c>simple</c> (OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 - INPUT1, INT32 [batch,16]) as an
/// opset-13 ONNX file (an older opset than Triton's own file, which declares 21), run by the native engine.
/// </summary>
public static class NativeModels
{
    public static void WriteAddSub(string repo, string name)
    {
        string dir = Path.Combine(repo, name, "1");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(repo, name, "config.pbtxt"), $$"""
            name: "{{name}}"
            platform: "onnxruntime_onnx"
            max_batch_size: 8
            input [ { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "INPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]
            output [ { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 16 ] }, { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 16 ] } ]
            """);
        var graph = new GraphProto { Name = name };
        graph.Node.Add(new NodeProto { OpType = "Add", Input = { "INPUT0", "INPUT1" }, Output = { "OUTPUT0" } });
        graph.Node.Add(new NodeProto { OpType = "Sub", Input = { "INPUT0", "INPUT1" }, Output = { "OUTPUT1" } });
        foreach (var n in new[] { "INPUT0", "INPUT1" }) graph.Input.Add(Int32Value(n));
        foreach (var n in new[] { "OUTPUT0", "OUTPUT1" }) graph.Output.Add(Int32Value(n));
        var model = new ModelProto { IrVersion = 8, ProducerName = "tessera-tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), model.ToByteArray());
    }

    private static ValueInfoProto Int32Value(string name)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 16 });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Int32, Shape = shape } },
        };
    }

    /// <summary>An "image classifier" for dashboard tests: IMAGE FP32 [batch,1,28,28] → Flatten → MatMul [784,10] → LOGITS.</summary>
    public static void WriteImageModel(string repo, string name)
    {
        string dir = Path.Combine(repo, name, "1");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(repo, name, "config.pbtxt"), $$"""
            name: "{{name}}"
            max_batch_size: 4
            input [ { name: "IMAGE" data_type: TYPE_FP32 dims: [ 1, 28, 28 ] } ]
            output [ { name: "LOGITS" data_type: TYPE_FP32 dims: [ 10 ] } ]
            """);
        var graph = new GraphProto { Name = name };
        graph.Node.Add(new NodeProto { OpType = "Flatten", Input = { "IMAGE" }, Output = { "flat" }, Attribute = { new AttributeProto { Name = "axis", I = 1, Type = AttributeProto.Types.AttributeType.Int } } });
        graph.Node.Add(new NodeProto { OpType = "MatMul", Input = { "flat", "W" }, Output = { "LOGITS" } });
        var w = new TensorProto { Name = "W", DataType = (int)TensorProto.Types.DataType.Float, Dims = { 784, 10 } };
        for (int i = 0; i < 784 * 10; i++) w.FloatData.Add((i % 10) * 0.01f * ((i / 10) % 28 < 14 ? 1 : -1));
        graph.Initializer.Add(w);
        graph.Input.Add(Value("IMAGE", TensorProto.Types.DataType.Float, -1, 1, 28, 28));
        graph.Output.Add(Value("LOGITS", TensorProto.Types.DataType.Float, -1, 10));
        var model = new ModelProto { IrVersion = 8, ProducerName = "tessera-tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), model.ToByteArray());
    }

    private static ValueInfoProto Value(string name, TensorProto.Types.DataType type, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "batch" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }
}
