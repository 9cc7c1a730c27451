using Google.Protobuf;
using Tessera.Graphs;
using Tessera.Onnx.Proto;
using static Tessera.Onnx.Tests.OnnxModelTests;
using DT = Tessera.Onnx.Proto.TensorProto.Types.DataType;

namespace Tessera.Onnx.Tests;

/// <summary>
/// Loop, Scan, nested bodies and sequences on small models built here: bodies that read the enclosing graph, a Loop
/// inside an If, buffer reuse around a body that returns an enclosing value, and malformed bodies reported by node.
/// </summary>
public class OnnxControlFlowTests
{
    private static NodeProto N(string op, string name, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        return n;
    }

    private static AttributeProto Body(string name, GraphProto g) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Graph, G = g };
    private static AttributeProto Ints(string name, params long[] v) { var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints }; a.Ints.AddRange(v); return a; }
    private static AttributeProto Int(string name, long v) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = v };

    private static GraphProto G(string name, ValueInfoProto[] inputs, ValueInfoProto[] outputs, params NodeProto[] nodes)
    {
        var g = new GraphProto { Name = name };
        g.Input.AddRange(inputs);
        g.Output.AddRange(outputs);
        g.Node.AddRange(nodes);
        return g;
    }

    private static byte[] Model(GraphProto g, int opset = 16)
    {
        var m = new ModelProto { IrVersion = 8, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return m.ToByteArray();
    }

    private static ValueInfoProto Seq(string name, DT t, params long[] dims)
    {
        var v = Value(name, t, dims);
        return new ValueInfoProto { Name = name, Type = new TypeProto { SequenceType = new TypeProto.Types.Sequence { ElemType = v.Type } } };
    }

    /// <summary>Loop body: acc += x (x read from the enclosing graph); scan output acc; cond passed through.</summary>
    private static GraphProto AccumulateBody(string x = "x", int inputs = 3, bool castOut = false) => G("body",
        [.. new[] { Value("i", DT.Int64), Value("cond_in", DT.Bool), Value("acc_in", DT.Float, 2) }.Take(inputs)],
        [Value("cond_out", DT.Bool), Value("acc_out", castOut ? DT.Int64 : DT.Float, 2), Value("scan", DT.Float, 2)],
        N("Add", "add", ["acc_in", x], [castOut ? "sum" : "acc_out"]),
        N("Identity", "c", ["cond_in"], ["cond_out"]),
        N("Identity", "s", [castOut ? "sum" : "acc_out"], ["scan"]),
        castOut ? N("Cast", "cast", ["sum"], ["acc_out"], Int("to", (long)DT.Int64)) : N("Identity", "noop", ["cond_in"], ["unused"]));

    private static GraphProto LoopGraph(GraphProto body) => G("main",
        [Value("M", DT.Int64), Value("acc0", DT.Float, 2), Value("x", DT.Float, 2)],
        [Value("acc", DT.Float, 2), Value("scans", DT.Float, -1, 2)],
        N("Loop", "loop", ["M", "", "acc0"], ["acc", "scans"], Body("body", body)));

    private static Dictionary<string, Tensor> LoopFeed(long m) => new()
    {
        ["M"] = Tensor.Scalar(m), ["acc0"] = Tensor.FromArray(new float[] { 1, 2 }, 2), ["x"] = Tensor.FromArray(new float[] { 10, 20 }, 2),
    };

    [Fact]
    public void Loop_body_reads_the_enclosing_graph_and_stacks_scan_outputs()
    {
        using var model = OnnxModel.Load(Model(LoopGraph(AccumulateBody())));
        var r = model.Run(LoopFeed(3));
        Assert.Equal(new float[] { 31, 62 }, r["acc"].ToArray<float>());
        Assert.Equal([3, 2], r["scans"].ShapeArray());
        Assert.Equal(new float[] { 11, 22, 21, 42, 31, 62 }, r["scans"].ToArray<float>());
        var none = model.Run(LoopFeed(0));
        Assert.Equal(new float[] { 1, 2 }, none["acc"].ToArray<float>());
        Assert.Equal([0, 2], none["scans"].ShapeArray());
    }

    [Fact]
    public void Loop_without_a_trip_count_stops_when_cond_turns_false()
    {
        // count += 1 while count < limit (limit read from the enclosing graph); scan output: the iteration number.
        var body = G("body", [Value("i", DT.Int64), Value("cond_in", DT.Bool), Value("n_in", DT.Int64)],
            [Value("cond_out", DT.Bool), Value("n_out", DT.Int64), Value("iters", DT.Int64)],
            N("Constant", "one", [], ["one"], new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = OnnxTensors.FromTensor(Tensor.Scalar(1L), "") }),
            N("Add", "inc", ["n_in", "one"], ["n_out"]),
            N("Less", "lt", ["n_out", "limit"], ["cond_out"]),
            N("Identity", "it", ["i"], ["iters"]));
        var main = G("main", [Value("go", DT.Bool), Value("n0", DT.Int64), Value("limit", DT.Int64)],
            [Value("n", DT.Int64), Value("iters_all", DT.Int64, -1)],
            N("Loop", "loop", ["", "go", "n0"], ["n", "iters_all"], Body("body", body)));
        using var model = OnnxModel.Load(Model(main, 11));
        var feed = new Dictionary<string, Tensor> { ["go"] = Tensor.Scalar(true), ["n0"] = Tensor.Scalar(0L), ["limit"] = Tensor.Scalar(5L) };
        var r = model.Run(feed);
        Assert.Equal(5L, r["n"].ToArray<long>()[0]);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4 }, r["iters_all"].ToArray<long>());
        feed["go"] = Tensor.Scalar(false);
        Assert.Equal(0L, model.Run(feed)["n"].ToArray<long>()[0]);
    }

    [Fact]
    public void A_huge_trip_count_allocates_nothing_up_front()
    {
        // cond turns false after 4 iterations; M = long.MaxValue must not size anything.
        var body = G("body", [Value("i", DT.Int64), Value("cond_in", DT.Bool), Value("acc_in", DT.Float, 2)],
            [Value("cond_out", DT.Bool), Value("acc_out", DT.Float, 2), Value("scan", DT.Float, 2)],
            N("Add", "add", ["acc_in", "x"], ["acc_out"]),
            N("Less", "lt", ["i", "three"], ["cond_out"]),
            N("Identity", "s", ["acc_out"], ["scan"]));
        body.Initializer.Add(OnnxTensors.FromTensor(Tensor.Scalar(3L), "three"));
        using var model = OnnxModel.Load(Model(LoopGraph(body)));
        var r = model.Run(LoopFeed(long.MaxValue));
        Assert.Equal([4, 2], r["scans"].ShapeArray());
        Assert.Equal(new float[] { 41, 82 }, r["acc"].ToArray<float>());
    }

    [Fact]
    public void A_loop_inside_an_if_reads_the_outermost_graph()
    {
        var then = G("then", [], [Value("t_acc", DT.Float, 2)],
            N("Loop", "inner_loop", ["M", "", "acc0"], ["t_acc", "t_scans"], Body("body", AccumulateBody())));
        var @else = G("else", [], [Value("e_acc", DT.Float, 2)], N("Neg", "neg", ["acc0"], ["e_acc"]));
        var main = G("main", [Value("cond", DT.Bool), Value("M", DT.Int64), Value("acc0", DT.Float, 2), Value("x", DT.Float, 2)],
            [Value("y", DT.Float, 2)],
            N("If", "if", ["cond"], ["y"], Body("then_branch", then), Body("else_branch", @else)));
        using var model = OnnxModel.Load(Model(main));
        var feed = LoopFeed(2);
        feed["cond"] = Tensor.Scalar(true);
        Assert.Equal(new float[] { 21, 42 }, model.Run(feed)["y"].ToArray<float>());
        feed["x"] = Tensor.FromArray(new float[] { 1, 1 }, 2);
        Assert.Equal(new float[] { 3, 4 }, model.Run(feed)["y"].ToArray<float>());
        feed["cond"] = Tensor.Scalar(false);
        Assert.Equal(new float[] { -1, -2 }, model.Run(feed)["y"].ToArray<float>());
    }

    [Fact]
    public void A_branch_returning_an_enclosing_value_is_not_overwritten_by_later_steps()
    {
        // a = exp(x) is last read by the If, so memory planning gives its buffer to the steps after it; y must keep exp(x).
        var then = G("then", [], [Value("a", DT.Float, 4)]);
        var @else = G("else", [], [Value("na", DT.Float, 4)], N("Neg", "neg", ["a"], ["na"]));
        var main = G("main", [Value("cond", DT.Bool), Value("x", DT.Float, 4)], [Value("y", DT.Float, 4), Value("z", DT.Float, 4)],
            N("Exp", "exp", ["x"], ["a"]),
            N("If", "if", ["cond"], ["y"], Body("then_branch", then), Body("else_branch", @else)),
            N("Neg", "b", ["x"], ["b"]), N("Tanh", "c", ["b"], ["c"]), N("Tanh", "d", ["c"], ["d"]), N("Tanh", "z", ["d"], ["z"]));
        using var model = OnnxModel.Load(Model(main), fuse: false);
        float[] x = [0, 1, -1, 2];
        var r = model.Run(new Dictionary<string, Tensor> { ["cond"] = Tensor.Scalar(true), ["x"] = Tensor.FromArray(x, 4) });
        AssertClose([.. x.Select(MathF.Exp)], r["y"].ToArray<float>());
        AssertClose([.. x.Select(v => MathF.Tanh(MathF.Tanh(MathF.Tanh(-v))))], r["z"].ToArray<float>());
    }

    [Fact]
    public void Scan_with_axes_and_directions_reads_the_enclosing_graph()
    {
        // X (2, 3) scanned over axis 1 backwards; s += x_t * w; the scan output goes on axis 1, forwards.
        var body = G("body", [Value("s_in", DT.Float, 2), Value("x_t", DT.Float, 2)], [Value("s_out", DT.Float, 2), Value("y_t", DT.Float, 2)],
            N("Mul", "mul", ["x_t", "w"], ["xw"]), N("Add", "add", ["s_in", "xw"], ["s_out"]), N("Identity", "id", ["s_out"], ["y_t"]));
        var main = G("main", [Value("s0", DT.Float, 2), Value("X", DT.Float, 2, 3), Value("w", DT.Float, 2)],
            [Value("s", DT.Float, 2), Value("Y", DT.Float, 2, 3)],
            N("Scan", "scan", ["s0", "X"], ["s", "Y"], Body("body", body), Int("num_scan_inputs", 1),
                Ints("scan_input_axes", 1), Ints("scan_input_directions", 1), Ints("scan_output_axes", 1)));
        using var model = OnnxModel.Load(Model(main, 11));
        float[] s0 = [0, 100], X = [1, 2, 3, 4, 5, 6], w = [1, 10];
        var r = model.Run(new Dictionary<string, Tensor> { ["s0"] = Tensor.FromArray(s0, 2), ["X"] = Tensor.FromArray(X, 2, 3), ["w"] = Tensor.FromArray(w, 2) });
        var expectedY = new float[6];
        var s = (float[])s0.Clone();
        for (int t = 0; t < 3; t++)
        {
            int col = 2 - t;   // backwards over axis 1
            for (int i = 0; i < 2; i++) { s[i] += X[i * 3 + col] * w[i]; expectedY[i * 3 + t] = s[i]; }
        }
        Assert.Equal(s, r["s"].ToArray<float>());
        Assert.Equal(expectedY, r["Y"].ToArray<float>());
    }

    [Fact]
    public void Sequences_are_model_inputs_and_outputs_through_RunValues()
    {
        var main = G("main", [Seq("seq", DT.Float, 2), Value("x", DT.Float, 2)], [Value("n", DT.Int64), Seq("out", DT.Float, 2)],
            N("SequenceLength", "len", ["seq"], ["n"]), N("SequenceInsert", "ins", ["seq", "x"], ["out"]));
        using var model = OnnxModel.Load(Model(main, 12));
        Assert.Equal(ValueKind.Sequence, model.Inputs[0].Kind);
        Assert.Equal(ValueKind.Sequence, model.Outputs[1].Kind);
        var seq = new TensorSequence(DType.Float32, [Tensor.FromArray(new float[] { 1, 2 }, 2)]);
        var r = model.RunValues(new Dictionary<string, object> { ["seq"] = seq, ["x"] = Tensor.FromArray(new float[] { 3, 4 }, 2) });
        Assert.Equal(1L, ((Tensor)r["n"]).ToArray<long>()[0]);
        var output = (TensorSequence)r["out"];
        Assert.Equal(2, output.Count);
        Assert.Equal(new float[] { 3, 4 }, output[1].ToArray<float>());
        Assert.Throws<InvalidOperationException>(() => model.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.Zeros(DType.Float32, 2) }));
        var e = Assert.Throws<ArgumentException>(() => model.RunValues(new Dictionary<string, object> { ["seq"] = Tensor.Zeros(DType.Float32, 2), ["x"] = Tensor.Zeros(DType.Float32, 2) }));
        Assert.Contains("seq", e.Message);
    }

    [Fact]
    public void A_body_reads_an_enclosing_initializer_on_every_compilation()
    {
        // The body is compiled again at run time for the input shapes: the enclosing constant must still resolve.
        var main = LoopGraph(AccumulateBody(x: "w"));
        main.Initializer.Add(OnnxTensors.FromTensor(Tensor.FromArray(new float[] { 0.5f, -1 }, 2), "w"));
        using var model = OnnxModel.Load(Model(main));
        Assert.Equal(new float[] { 2, 0 }, model.Run(LoopFeed(2))["acc"].ToArray<float>());
    }

    [Fact]
    public void A_loop_of_no_iterations_returns_a_copy_of_its_initial_value()
    {
        // With M = 0 the result is acc0 = exp(x), whose buffer the steps after the Loop reuse.
        var main = G("main", [Value("M", DT.Int64), Value("x", DT.Float, 2)], [Value("acc", DT.Float, 2), Value("z", DT.Float, 2)],
            N("Exp", "exp", ["x"], ["acc0"]),
            N("Loop", "loop", ["M", "", "acc0"], ["acc", "scans"], Body("body", AccumulateBody())),
            N("Neg", "b", ["x"], ["b"]), N("Tanh", "c", ["b"], ["c"]), N("Tanh", "d", ["c"], ["d"]), N("Tanh", "z", ["d"], ["z"]));
        using var model = OnnxModel.Load(Model(main), fuse: false);
        float[] x = [0, 1];
        var r = model.Run(new Dictionary<string, Tensor> { ["M"] = Tensor.Scalar(0L), ["x"] = Tensor.FromArray(x, 2) });
        AssertClose([.. x.Select(MathF.Exp)], r["acc"].ToArray<float>());
        AssertClose([.. x.Select(v => 3 * v + MathF.Exp(v))], model.Run(new Dictionary<string, Tensor> { ["M"] = Tensor.Scalar(3L), ["x"] = Tensor.FromArray(x, 2) })["acc"].ToArray<float>());
    }

    [Fact]
    public void A_sequence_of_constants_is_not_folded_away_by_fusion()
    {
        // Both the importer's folding and InferenceFusion's see a value op whose inputs are all constants.
        var main = G("main", [Value("x", DT.Float, 2)], [Value("y", DT.Float, 3, 2)],
            N("SequenceConstruct", "seq", ["a", "b"], ["s"]), N("SequenceInsert", "ins", ["s", "x"], ["s2"]),
            N("ConcatFromSequence", "cat", ["s2"], ["y"], Int("axis", 0), Int("new_axis", 1)));
        main.Initializer.Add(OnnxTensors.FromTensor(Tensor.FromArray(new float[] { 1, 2 }, 2), "a"));
        main.Initializer.Add(OnnxTensors.FromTensor(Tensor.FromArray(new float[] { 3, 4 }, 2), "b"));
        foreach (bool fuse in new[] { true, false })
        {
            using var model = OnnxModel.Load(Model(main, 13), fuse);
            var y = model.Run(new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray(new float[] { 5, 6 }, 2) })["y"];
            Assert.Equal([3, 2], y.ShapeArray());
            Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, y.ToArray<float>());
        }
    }

    [Theory]
    [InlineData("test_sequence_insert_at_back", ValueKind.Sequence)]
    [InlineData("test_optional_get_element_sequence", ValueKind.OptionalSequence)]
    [InlineData("test_optional_get_element", ValueKind.Optional)]
    [InlineData("test_optional_has_element_empty", ValueKind.Optional)]
    public void Sequence_and_optional_files_round_trip(string testCase, ValueKind kind)
    {
        var file = Path.Combine(OnnxConformance.DataRoot, "node", testCase, "test_data_set_0", "input_0.pb");
        var value = OnnxTensors.ReadValueFile(file, kind, DType.Float32);
        Assert.Equal(kind, ValueKinds.KindOf(value));
        var copy = Path.GetTempFileName();
        try
        {
            OnnxTensors.WriteValueFile(value, "v", copy);
            var back = OnnxTensors.ReadValueFile(copy, kind, DType.Float32);
            Assert.Null(OnnxConformance.Compare(back, value));
            Assert.Equal(ValueKinds.TypeOf(value, default).ToString(), ValueKinds.TypeOf(back, default).ToString());
        }
        finally { File.Delete(copy); }
        // An optional holding the other kind is a format error, not a crash.
        if (value is OptionalValue { HasElement: true }) Assert.Throws<OnnxFormatException>(() => OnnxTensors.ReadValueFile(file, kind == ValueKind.Optional ? ValueKind.OptionalSequence : ValueKind.Optional, DType.Float32));
    }

    [Fact]
    public void A_body_with_the_wrong_number_of_inputs_is_reported_by_node()
    {
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(Model(LoopGraph(AccumulateBody(inputs: 2)))));
        Assert.Contains("Loop node 'loop' body has 2 inputs, expected 3", e.Message);
    }

    [Fact]
    public void A_loop_carried_value_that_changes_dtype_is_reported_by_node()
    {
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(Model(LoopGraph(AccumulateBody(castOut: true)))));
        Assert.Contains("node 'loop'", e.Message);
        Assert.Contains("loop-carried value 0", e.Message);
    }

    [Fact]
    public void A_body_reading_an_unknown_name_is_reported_by_node()
    {
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(Model(LoopGraph(AccumulateBody(x: "nowhere")))));
        Assert.Contains("Loop node 'loop' body", e.Message);
        Assert.Contains("'nowhere'", e.Message);
    }

    [Fact]
    public void A_scan_axis_out_of_range_is_reported_by_node()
    {
        var body = G("body", [Value("s_in", DT.Float, 2), Value("x_t", DT.Float, 2)], [Value("s_out", DT.Float, 2)],
            N("Add", "add", ["s_in", "x_t"], ["s_out"]));
        var main = G("main", [Value("s0", DT.Float, 2), Value("X", DT.Float, 3, 2)], [Value("s", DT.Float, 2)],
            N("Scan", "scan", ["s0", "X"], ["s"], Body("body", body), Int("num_scan_inputs", 1), Ints("scan_input_axes", 2)));
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(Model(main, 11)));
        Assert.Contains("node 'scan'", e.Message);
        Assert.Contains("scan_input_axes[0] = 2 is out of range", e.Message);
    }

    [Fact]
    public void Inserting_a_tensor_of_another_dtype_is_reported_by_node()
    {
        var main = G("main", [Seq("seq", DT.Float, 2), Value("x", DT.Int64, 2)], [Seq("out", DT.Float, 2)],
            N("SequenceInsert", "ins", ["seq", "x"], ["out"]));
        var e = Assert.Throws<OnnxFormatException>(() => OnnxModel.Load(Model(main, 12)));
        Assert.Contains("node 'ins' (SequenceInsert", e.Message);
    }
}
