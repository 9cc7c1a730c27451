using Google.Protobuf;
using Tessera.Onnx;
using Tessera.Onnx.Proto;

namespace Tessera.Onnx.Tests;

public class OnnxModelTests
{
    /// <summary>y = relu(x·W + b) with x of shape (batch, 3), W an initializer.</summary>
    internal static ModelProto LinearRelu(string op = "Relu", string domain = "")
    {
        var g = new GraphProto { Name = "linear" };
        g.Input.Add(Value("x", TensorProto.Types.DataType.Float, -1, 3));
        g.Output.Add(Value("y", TensorProto.Types.DataType.Float, -1, 2));
        g.Initializer.Add(OnnxTensors.FromTensor(Tensor.FromArray(new float[] { 1, -1, 2, 0.5f, -3, 1 }, 3, 2), "W"));
        g.Initializer.Add(OnnxTensors.FromTensor(Tensor.FromArray(new float[] { 0.25f, -0.5f }, 2), "b"));
        g.Node.Add(new NodeProto { OpType = "MatMul", Name = "mm", Input = { "x", "W" }, Output = { "xw" } });
        g.Node.Add(new NodeProto { OpType = "Add", Name = "add", Input = { "xw", "b" }, Output = { "z" } });
        g.Node.Add(new NodeProto { OpType = op, Domain = domain, Name = "act", Input = { "z" }, Output = { "y" } });
        var m = new ModelProto { IrVersion = 8, Graph = g, ProducerName = "tessera-tests" };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return m;
    }

    internal static ValueInfoProto Value(string name, TensorProto.Types.DataType t, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims) shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "batch" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)t, Shape = shape } } };
    }

    private static float[] Expected(float[] x, int batch)
    {
        float[] w = [1, -1, 2, 0.5f, -3, 1], b = [0.25f, -0.5f];
        var y = new float[batch * 2];
        for (int n = 0; n < batch; n++)
            for (int j = 0; j < 2; j++)
            {
                float s = b[j];
                for (int k = 0; k < 3; k++) s += x[n * 3 + k] * w[k * 2 + j];
                y[n * 2 + j] = Math.Max(s, 0);
            }
        return y;
    }

    internal static void AssertClose(float[] expected, float[] actual, double tol = 1e-5)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"element {i}: {actual[i]} vs expected {expected[i]}");
    }

    [Fact]
    public void Load_reports_inputs_and_outputs_with_dynamic_dims_as_minus_one()
    {
        using var model = OnnxModel.Load(LinearRelu().ToByteArray());
        var input = Assert.Single(model.Inputs);
        Assert.Equal("x", input.Name);
        Assert.Equal(DType.Float32, input.DType);
        Assert.Equal([-1, 3], input.Shape);
        Assert.Equal("y", Assert.Single(model.Outputs).Name);
        Assert.Equal(13, model.Opset);
    }

    [Fact]
    public void Run_computes_outputs_for_any_batch_size()
    {
        using var model = OnnxModel.Load(LinearRelu().ToByteArray());
        foreach (int batch in new[] { 1, 4, 2 })
        {
            var x = Enumerable.Range(0, batch * 3).Select(i => (float)Math.Sin(i)).ToArray();
            var y = model.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray(x, batch, 3) })["y"];
            Assert.Equal([batch, 2], y.ShapeArray());
            AssertClose(Expected(x, batch), y.ToArray<float>());
        }
    }

    [Fact]
    public void Run_is_safe_under_concurrent_calls()
    {
        using var model = OnnxModel.Load(LinearRelu().ToByteArray());
        Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            int batch = 1 + i % 5;
            var x = Enumerable.Range(0, batch * 3).Select(k => (float)Math.Cos(i + k)).ToArray();
            var y = model.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray(x, batch, 3) })["y"];
            AssertClose(Expected(x, batch), y.ToArray<float>());
        });
    }

    [Fact]
    public void Wrong_input_name_dtype_or_shape_is_rejected_with_expected_and_given()
    {
        using var model = OnnxModel.Load(LinearRelu().ToByteArray());
        var e1 = Assert.Throws<ArgumentException>(() => model.Run(new Dictionary<string, Tensor> { ["input"] = Tensor.Zeros(DType.Float32, 1, 3) }));
        Assert.Contains("'input'", e1.Message);
        Assert.Contains("x: float32 (?, 3)", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => model.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.Zeros(DType.Float64, 1, 3) }));
        Assert.Contains("expects dtype float32, was given float64", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => model.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.Zeros(DType.Float32, 1, 4) }));
        Assert.Contains("expects shape (?, 3), was given (1, 4)", e3.Message);
        var e4 = Assert.Throws<ArgumentException>(() => model.Run(new Dictionary<string, Tensor>()));
        Assert.Contains("'x'", e4.Message);
    }

    [Fact]
    public void Unsupported_operator_names_op_domain_opset_and_node()
    {
        var e = Assert.Throws<OnnxUnsupportedException>(() => OnnxModel.Load(LinearRelu("FancyActivation").ToByteArray()));
        Assert.Contains("FancyActivation", e.Message);
        Assert.Contains("opset 13", e.Message);
        Assert.Contains("'act'", e.Message);
        Assert.Contains("domain ''", e.Message);
        var e2 = Assert.Throws<OnnxUnsupportedException>(() => OnnxModel.Load(LinearRelu("Relu", "com.example").ToByteArray()));
        Assert.Contains("com.example", e2.Message);
    }

    [Fact]
    public void Initializers_load_from_external_data_files()
    {
        var dir = Directory.CreateTempSubdirectory("tessera-onnx-");
        try
        {
            var m = LinearRelu();
            var w = m.Graph.Initializer[0];
            var raw = w.RawData.ToByteArray();
            File.WriteAllBytes(Path.Combine(dir.FullName, "weights.bin"), [.. new byte[16], .. raw]);
            w.RawData = ByteString.Empty;
            w.DataLocation = TensorProto.Types.DataLocation.External;
            w.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
            w.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "16" });
            w.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = raw.Length.ToString() });
            var path = Path.Combine(dir.FullName, "model.onnx");
            File.WriteAllBytes(path, m.ToByteArray());
            using var model = OnnxModel.Load(path);
            var x = new float[] { 1, 2, 3 };
            AssertClose(Expected(x, 1), model.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray(x, 1, 3) })["y"].ToArray<float>());

            w.ExternalData[0].Value = "../../etc/passwd";
            File.WriteAllBytes(path, m.ToByteArray());
            Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(path));
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void Constant_subgraphs_are_folded_at_load()
    {
        var m = LinearRelu();
        // W2 = Transpose(Transpose(W)) depends only on initializers, so it becomes one constant.
        m.Graph.Node.Insert(0, new NodeProto { OpType = "Transpose", Input = { "W" }, Output = { "Wt" } });
        m.Graph.Node.Insert(1, new NodeProto { OpType = "Transpose", Input = { "Wt" }, Output = { "W2" } });
        m.Graph.Node[2].Input[1] = "W2";
        var imported = OnnxImporter.Import(m, OnnxImporter.ReadInitializers(m, null), null);
        using var machine = new Graphs.TapeMachine(imported.Graph, imported.Outputs);
        Assert.Equal(3, machine.StepCount);
    }
}
