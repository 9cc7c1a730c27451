using Google.Protobuf;
using Tessera.Onnx.Proto;
using Tessera.OnnxRuntime;
using static Tessera.Onnx.Tests.OnnxModelTests;
using DT = Tessera.Onnx.Proto.TensorProto.Types.DataType;

namespace Tessera.Onnx.Tests;

/// <summary>
/// Default-domain opsets 19–21: each operator change the importer implements, as a one-node model at the new opset
/// checked against ONNX Runtime (or hand-computed values); each change it refuses, by the op, opset and feature named.
/// </summary>
public class OnnxOpset21Tests
{
    private sealed record In(string Name, DT Type, int[] Shape);

    /// <summary>One node at <paramref name="opset"/>: graph inputs, constant initializers, outputs of unknown shape.</summary>
    private static ModelProto NodeModel(int opset, NodeProto node, In[] inputs, (string Name, Tensor Value)[]? initializers = null, params (string Name, DT Type)[] outputs)
    {
        var g = new GraphProto { Name = node.OpType.ToLowerInvariant() };
        foreach (var i in inputs) g.Input.Add(Value(i.Name, i.Type, [.. i.Shape.Select(d => (long)d)]));
        foreach (var (name, value) in initializers ?? []) g.Initializer.Add(OnnxTensors.FromTensor(value, name));
        foreach (var (name, type) in outputs)
            g.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type } } });
        node.Name = "n0";
        g.Node.Add(node);
        var m = new ModelProto { IrVersion = 10, Graph = g, ProducerName = "tessera-tests" };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return m;
    }

    private static AttributeProto Attr(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };
    private static AttributeProto Attr(string name, string v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(v) };
    private static AttributeProto Attr(string name, params long[] v)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.Add(v);
        return a;
    }

    /// <summary>Runs the model natively and in ONNX Runtime on the same inputs; returns (native, ORT) outputs.</summary>
    private static (Dictionary<string, Tensor> Native, Dictionary<string, Tensor> Ort) RunBoth(ModelProto m, Dictionary<string, Tensor> inputs)
    {
        var bytes = m.ToByteArray();
        var path = Path.Combine(Path.GetTempPath(), $"tessera-opset{m.OpsetImport[0].Version}-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, bytes);
        try
        {
            using var native = OnnxModel.Load(bytes);
            using var ort = OrtModel.Load(path, 1);
            return (native.Run(inputs), ort.Run(inputs));
        }
        finally { File.Delete(path); }
    }

    private static void AssertMatchesOrt(ModelProto m, Dictionary<string, Tensor> inputs, double tol = 1e-5)
    {
        var (native, ort) = RunBoth(m, inputs);
        foreach (var (name, expected) in ort)
        {
            var actual = native[name];
            Assert.Equal(expected.ShapeArray(), actual.ShapeArray());
            Assert.Equal(expected.DType, actual.DType);
            for (int i = 0; i < expected.Length; i++)
            {
                double e = expected.GetDouble(i), a = actual.GetDouble(i);
                Assert.True(Math.Abs(e - a) <= tol * (1 + Math.Abs(e)), $"{name}[{i}]: native {a}, ONNX Runtime {e}");
            }
        }
    }

    private static OnnxUnsupportedException Refused(ModelProto m) => Assert.Throws<OnnxUnsupportedException>(() => OnnxModel.Load(m.ToByteArray()));

    private static void AssertNames(OnnxUnsupportedException e, string op, int opset, string feature)
    {
        Assert.Contains(op, e.Message);
        Assert.Contains($"opset {opset}", e.Message);
        Assert.Contains(feature, e.Message);
    }

    private static Tensor Random(int seed, params int[] shape) => Tensor.RandomNormal(seed, DType.Float32, 0, 1, shape);

    // ---- opset 19 ----

    [Fact]
    public void Pad_19_wrap_matches_onnx_runtime_and_is_refused_before_19()
    {
        NodeProto Node() => new() { OpType = "Pad", Input = { "x", "pads" }, Output = { "y" }, Attribute = { Attr("mode", "wrap") } };
        var pads = Tensor.FromArray(new long[] { 1, 3, 2, -1 }, 4);   // begin (1, 3), end (2, −1): wraps and crops
        var m = NodeModel(19, Node(), [new("x", DT.Float, [3, 4])], [("pads", pads)], ("y", DT.Float));
        AssertMatchesOrt(m, new() { ["x"] = Random(1, 3, 4) });
        AssertNames(Refused(NodeModel(18, Node(), [new("x", DT.Float, [3, 4])], [("pads", pads)], ("y", DT.Float))), "Pad", 18, "'wrap'");
    }

    [Fact]
    public void Resize_19_half_pixel_symmetric_matches_onnx_runtime()
    {
        foreach (var mode in new[] { "linear", "nearest", "cubic" })
        {
            var node = new NodeProto { OpType = "Resize", Input = { "x", "", "scales" }, Output = { "y" },
                Attribute = { Attr("mode", mode), Attr("coordinate_transformation_mode", "half_pixel_symmetric") } };
            // 5·0.7 = 3.5 and 7·1.3 = 9.1 round down, so the symmetric adjustment is not 1.
            var m = NodeModel(19, node, [new("x", DT.Float, [1, 2, 5, 7])], [("scales", Tensor.FromArray(new float[] { 1, 1, 0.7f, 1.3f }, 4))], ("y", DT.Float));
            AssertMatchesOrt(m, new() { ["x"] = Random(2, 1, 2, 5, 7) }, 1e-5);
        }
    }

    [Fact]
    public void Resize_refuses_half_pixel_symmetric_before_19_and_antialias()
    {
        var node = new NodeProto { OpType = "Resize", Input = { "x", "", "scales" }, Output = { "y" }, Attribute = { Attr("coordinate_transformation_mode", "half_pixel_symmetric") } };
        var scales = Tensor.FromArray(new float[] { 1, 1, 2, 2 }, 4);
        AssertNames(Refused(NodeModel(18, node, [new("x", DT.Float, [1, 1, 2, 2])], [("scales", scales)], ("y", DT.Float))), "Resize", 18, "half_pixel_symmetric");
        var aa = new NodeProto { OpType = "Resize", Input = { "x", "", "scales" }, Output = { "y" }, Attribute = { Attr("mode", "linear"), Attr("antialias", 1L) } };
        AssertNames(Refused(NodeModel(19, aa, [new("x", DT.Float, [1, 1, 2, 2])], [("scales", scales)], ("y", DT.Float))), "Resize", 19, "antialias");
    }

    [Fact]
    public void AveragePool_19_dilations_match_onnx_runtime()
    {
        foreach (long includePad in new long[] { 0, 1 })
        {
            var node = new NodeProto { OpType = "AveragePool", Input = { "x" }, Output = { "y" },
                Attribute = { Attr("kernel_shape", 3, 2), Attr("dilations", 2, 3), Attr("pads", 1, 1, 2, 1), Attr("count_include_pad", includePad) } };
            var m = NodeModel(19, node, [new("x", DT.Float, [1, 2, 8, 9])], null, ("y", DT.Float));
            AssertMatchesOrt(m, new() { ["x"] = Random(3, 1, 2, 8, 9) });
        }
    }

    [Fact]
    public void Cast_19_to_float8_is_refused_naming_op_opset_and_type()
    {
        var node = new NodeProto { OpType = "Cast", Input = { "x" }, Output = { "y" }, Attribute = { Attr("to", 17L), Attr("saturate", 0L) } };
        var e = Refused(NodeModel(19, node, [new("x", DT.Float, [2])], null, ("y", DT.Float)));
        AssertNames(e, "Cast", 19, "Float8E4M3Fn");
    }

    [Fact]
    public void Float8_and_int4_tensors_are_refused_as_unsupported_types_not_as_corrupt_files()
    {
        foreach (var (type, name) in new[] { (DT.Float8E5M2, "Float8E5M2"), (DT.Int4, "Int4"), (DT.Uint4, "Uint4") })
        {
            var t = new TensorProto { Name = "w", DataType = (int)type, Dims = { 2 }, RawData = ByteString.CopyFrom(1, 2) };
            var e = Assert.Throws<OnnxUnsupportedException>(() => OnnxTensors.ToTensor(t, null, "initializer 'w'"));
            Assert.Contains(name, e.Message);
        }
    }

    // ---- opset 20 ----

    [Fact]
    public void Gelu_20_exact_and_tanh_match_onnx_runtime()
    {
        foreach (var approximate in new[] { "none", "tanh" })
        {
            var node = new NodeProto { OpType = "Gelu", Input = { "x" }, Output = { "y" }, Attribute = { Attr("approximate", approximate) } };
            var x = Tensor.RandomNormal(4, DType.Float32, 0, 3, 4, 5);
            AssertMatchesOrt(NodeModel(20, node, [new("x", DT.Float, [4, 5])], null, ("y", DT.Float)), new() { ["x"] = x }, 1e-5);
        }
    }

    [Fact]
    public void Gelu_values_match_the_formulas_by_hand()
    {
        var node = new NodeProto { OpType = "Gelu", Input = { "x" }, Output = { "y" }, Attribute = { Attr("approximate", "tanh") } };
        using var model = OnnxModel.Load(NodeModel(20, node, [new("x", DT.Double, [3])], null, ("y", DT.Double)).ToByteArray());
        double[] xs = [-2, 0.5, 3];
        var y = model.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray(xs, 3) })["y"].ToArray<double>();
        for (int i = 0; i < 3; i++)
        {
            double x = xs[i], expected = 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            Assert.Equal(expected, y[i], 12);
        }
        var bad = new NodeProto { OpType = "Gelu", Input = { "x" }, Output = { "y" }, Attribute = { Attr("approximate", "erf") } };
        AssertNames(Refused(NodeModel(20, bad, [new("x", DT.Float, [3])], null, ("y", DT.Float))), "Gelu", 20, "approximate 'erf'");
    }

    [Fact]
    public void DFT_20_reads_axis_from_its_input_and_defaults_to_the_last_signal_axis()
    {
        var x = Random(5, 2, 6, 5, 1);   // real signal: (batch, 6, 5, 1)
        // axis input = 1 with dft_length 8 (zero padding), and axis input absent (default −2: the axis of size 5).
        var withAxis = new NodeProto { OpType = "DFT", Input = { "x", "len", "axis" }, Output = { "y" } };
        AssertMatchesOrt(NodeModel(20, withAxis, [new("x", DT.Float, [2, 6, 5, 1])],
            [("len", Tensor.Scalar(8L)), ("axis", Tensor.Scalar(1L))], ("y", DT.Float)), new() { ["x"] = x }, 1e-4);
        var byDefault = new NodeProto { OpType = "DFT", Input = { "x" }, Output = { "y" }, Attribute = { Attr("onesided", 1L) } };
        var (native, ort) = RunBoth(NodeModel(20, byDefault, [new("x", DT.Float, [2, 6, 5, 1])], null, ("y", DT.Float)), new() { ["x"] = x });
        Assert.Equal([2, 6, 3, 2], native["y"].ShapeArray());   // onesided over the axis of 5: 5/2 + 1 bins
        Assert.Equal(ort["y"].ShapeArray(), native["y"].ShapeArray());
        var a = native["y"].ToArray<float>(); var b = ort["y"].ToArray<float>();
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 1e-4 * (1 + Math.Abs(b[i])), $"y[{i}]: {a[i]} vs {b[i]}");
    }

    [Fact]
    public void GridSample_20_uses_the_renamed_modes_and_refuses_old_names_and_volumes()
    {
        var grid = Tensor.RandomNormal(6, DType.Float32, 0, 0.7, 1, 3, 4, 2);
        foreach (var mode in new[] { "linear", "cubic", "nearest" })
        {
            var node = new NodeProto { OpType = "GridSample", Input = { "x", "grid" }, Output = { "y" }, Attribute = { Attr("mode", mode), Attr("padding_mode", "border") } };
            foreach (var padding in new[] { "zeros", "border", "reflection" })
            {
                node.Attribute[1] = Attr("padding_mode", padding);
                AssertMatchesOrt(NodeModel(20, node, [new("x", DT.Float, [1, 2, 5, 6]), new("grid", DT.Float, [1, 3, 4, 2])], null, ("y", DT.Float)),
                    new() { ["x"] = Random(7, 1, 2, 5, 6), ["grid"] = grid }, 1e-5);
            }
        }
        var old = new NodeProto { OpType = "GridSample", Input = { "x", "grid" }, Output = { "y" }, Attribute = { Attr("mode", "bicubic") } };
        AssertNames(Refused(NodeModel(20, old, [new("x", DT.Float, [1, 2, 5, 6]), new("grid", DT.Float, [1, 3, 4, 2])], null, ("y", DT.Float))), "GridSample", 20, "mode 'bicubic'");
        var cubic16 = new NodeProto { OpType = "GridSample", Input = { "x", "grid" }, Output = { "y" }, Attribute = { Attr("mode", "cubic") } };
        AssertNames(Refused(NodeModel(16, cubic16, [new("x", DT.Float, [1, 2, 5, 6]), new("grid", DT.Float, [1, 3, 4, 2])], null, ("y", DT.Float))), "GridSample", 16, "mode 'cubic'");
        var volume = new NodeProto { OpType = "GridSample", Input = { "x", "grid" }, Output = { "y" } };
        AssertNames(Refused(NodeModel(20, volume, [new("x", DT.Float, [1, 2, 3, 5, 6]), new("grid", DT.Float, [1, 2, 3, 4, 3])], null, ("y", DT.Float))), "GridSample", 20, "3-D sampling");
    }

    [Fact]
    public void ReduceMax_and_ReduceMin_20_take_bool()
    {
        var x = Tensor.FromArray(new[] { true, false, false, true, true, true }, 2, 3);
        foreach (var (op, expected) in new[] { ("ReduceMax", new[] { true, true }), ("ReduceMin", new[] { false, true }) })
        {
            var node = new NodeProto { OpType = op, Input = { "x", "axes" }, Output = { "y" }, Attribute = { Attr("keepdims", 0L) } };
            var m = NodeModel(20, node, [new("x", DT.Bool, [2, 3])], [("axes", Tensor.FromArray(new long[] { 1 }, 1))], ("y", DT.Bool));
            using var model = OnnxModel.Load(m.ToByteArray());
            var y = model.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"];
            Assert.Equal(DType.Bool, y.DType);
            Assert.Equal(expected, y.ToArray<bool>());
            AssertMatchesOrt(m, new() { ["x"] = x });
        }
    }

    [Fact]
    public void Reductions_from_18_take_axes_from_their_input()
    {
        foreach (var op in new[] { "ReduceMean", "ReduceMax", "ReduceL2", "ReduceLogSumExp" })
        {
            var node = new NodeProto { OpType = op, Input = { "x", "axes" }, Output = { "y" } };
            var m = NodeModel(18, node, [new("x", DT.Float, [2, 3, 4])], [("axes", Tensor.FromArray(new long[] { -1, 0 }, 2))], ("y", DT.Float));
            AssertMatchesOrt(m, new() { ["x"] = Random(8, 2, 3, 4) });
        }
    }

    [Fact]
    public void AffineGrid_20_matches_onnx_runtime_in_2d_and_3d()
    {
        foreach (long align in new long[] { 0, 1 })
        {
            var node = new NodeProto { OpType = "AffineGrid", Input = { "theta", "size" }, Output = { "grid" }, Attribute = { Attr("align_corners", align) } };
            AssertMatchesOrt(NodeModel(20, node, [new("theta", DT.Float, [2, 2, 3])], [("size", Tensor.FromArray(new long[] { 2, 3, 4, 5 }, 4))], ("grid", DT.Float)),
                new() { ["theta"] = Random(10, 2, 2, 3) });
            AssertMatchesOrt(NodeModel(20, node, [new("theta", DT.Float, [1, 3, 4])], [("size", Tensor.FromArray(new long[] { 1, 1, 2, 3, 4 }, 5))], ("grid", DT.Float)),
                new() { ["theta"] = Random(11, 1, 3, 4) });
        }
    }

    [Fact]
    public void String_operators_of_20_are_refused_naming_op_and_opset()
    {
        var node = new NodeProto { OpType = "StringConcat", Input = { "x", "x" }, Output = { "y" } };
        var m = NodeModel(20, node, [new("x", DT.Float, [2])], null, ("y", DT.Float));
        AssertNames(Refused(m), "StringConcat", 20, "not supported");
    }

    // ---- opset 21 ----

    [Fact]
    public void DequantizeLinear_21_blocked_matches_onnx_runtime()
    {
        var q = Tensor.FromArray(Enumerable.Range(0, 2 * 7).Select(i => (byte)(i * 17 % 256)).ToArray(), 2, 7);
        var scale = Tensor.FromArray(new float[] { 0.5f, 0.25f, 2f, 0.1f, 1f, 3f }, 2, 3);   // blocks of 3 along axis 1: ⌈7/3⌉ = 3
        var zp = Tensor.FromArray(new byte[] { 0, 10, 128, 3, 200, 1 }, 2, 3);
        var node = new NodeProto { OpType = "DequantizeLinear", Input = { "q", "scale", "zp" }, Output = { "y" }, Attribute = { Attr("axis", 1L), Attr("block_size", 3L) } };
        AssertMatchesOrt(NodeModel(21, node, [new("q", DT.Uint8, [2, 7])], [("scale", scale), ("zp", zp)], ("y", DT.Float)), new() { ["q"] = q });
    }

    [Fact]
    public void QuantizeLinear_21_blocked_and_output_dtype_match_onnx_runtime()
    {
        var x = Tensor.RandomNormal(9, DType.Float32, 0, 40, 4, 3);
        var scale = Tensor.FromArray(new float[] { 0.5f, 1.5f, 0.25f, 2f, 1f, 0.75f }, 2, 3);   // blocks of 2 along axis 0
        var node = new NodeProto { OpType = "QuantizeLinear", Input = { "x", "scale" }, Output = { "y" },
            Attribute = { Attr("axis", 0L), Attr("block_size", 2L), Attr("output_dtype", (long)DT.Int8) } };
        var m = NodeModel(21, node, [new("x", DT.Float, [4, 3])], [("scale", scale)], ("y", DT.Int8));
        // Tessera.OnnxRuntime has no int8 outputs, so the reference is computed here: round half to even, saturate.
        using var model = OnnxModel.Load(m.ToByteArray());
        var y = model.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"];
        Assert.Equal(DType.Int8, y.DType);   // not the uint8 default
        var xs = x.ToArray<float>(); var ss = scale.ToArray<float>();
        var expected = xs.Select((v, i) => (sbyte)Math.Clamp(Math.Round(v / ss[(i / 3 / 2) * 3 + i % 3], MidpointRounding.ToEven), -128, 127)).ToArray();
        Assert.Equal(expected, y.ToArray<sbyte>());
        Assert.Contains(expected, v => v is -128 or 127);   // the data reach the int8 limits, so saturation is exercised
    }

    [Fact]
    public void GroupNormalization_scales_per_group_at_18_and_per_channel_at_21()
    {
        var x = Random(12, 2, 6, 3, 4);
        foreach (var (opset, len) in new[] { (18, 3), (21, 6) })
        {
            var node = new NodeProto { OpType = "GroupNormalization", Input = { "x", "scale", "bias" }, Output = { "y" },
                Attribute = { Attr("num_groups", 3L), new AttributeProto { Name = "epsilon", Type = AttributeProto.Types.AttributeType.Float, F = 1e-3f } } };
            var m = NodeModel(opset, node, [new("x", DT.Float, [2, 6, 3, 4])],
                [("scale", Random(13, len)), ("bias", Random(14, len))], ("y", DT.Float));
            AssertMatchesOrt(m, new() { ["x"] = x }, 1e-4);
        }
        // A per-group (opset-18) scale in an opset-21 model is an error, not silently broadcast.
        var old = new NodeProto { OpType = "GroupNormalization", Input = { "x", "scale", "bias" }, Output = { "y" }, Attribute = { Attr("num_groups", 3L) } };
        var bad = NodeModel(21, old, [new("x", DT.Float, [2, 6, 3, 4])], [("scale", Random(13, 3)), ("bias", Random(14, 3))], ("y", DT.Float));
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(bad.ToByteArray()));
        Assert.Contains("length 6", e.Message);
    }

    [Fact]
    public void QuantizeLinear_21_to_int4_is_refused_naming_op_opset_and_type()
    {
        var node = new NodeProto { OpType = "QuantizeLinear", Input = { "x", "scale" }, Output = { "y" }, Attribute = { Attr("output_dtype", (long)DT.Int4) } };
        var e = Refused(NodeModel(21, node, [new("x", DT.Float, [4])], [("scale", Tensor.Scalar(0.5f))], ("y", DT.Float)));
        AssertNames(e, "QuantizeLinear", 21, "Int4");
    }

    [Fact]
    public void Opset_22_is_refused_with_the_supported_range()
    {
        var node = new NodeProto { OpType = "Relu", Input = { "x" }, Output = { "y" } };
        var e = Refused(NodeModel(22, node, [new("x", DT.Float, [2])], null, ("y", DT.Float)));
        Assert.Contains("opset 22", e.Message);
        Assert.Contains($"{OnnxImporter.MinOpset}–21", e.Message);
    }

    [Fact]
    public void Tritons_simple_declares_opset_21_and_runs_natively_with_tritons_answers()
    {
        // The repository's copy of Triton's example (tests/fixtures, also what the serving tests serve).
        string path = Path.Combine(RepositoryRoot(), "tests", "fixtures", "triton-model-repository", "simple", "1", "model.onnx");
        Assert.True(File.Exists(path), $"Triton's simple model is missing at {path}");
        var proto = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        Assert.Equal(21, OnnxImporter.DefaultOpset(proto));
        using var model = OnnxModel.Load(path);
        int[] a = [.. Enumerable.Range(0, 32)], b = [.. Enumerable.Range(0, 32).Select(i => 3 - 2 * i)];
        var y = model.Run(new Dictionary<string, Tensor> { ["INPUT0"] = Tensor.FromArray(a, 2, 16), ["INPUT1"] = Tensor.FromArray(b, 2, 16) });
        Assert.Equal(a.Zip(b, (p, q) => p + q), y["OUTPUT0"].ToArray<int>());
        Assert.Equal(a.Zip(b, (p, q) => p - q), y["OUTPUT1"].ToArray<int>());
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, ".git")) && !File.Exists(Path.Combine(dir.FullName, ".git"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("repository root not found above " + AppContext.BaseDirectory);
    }
}
