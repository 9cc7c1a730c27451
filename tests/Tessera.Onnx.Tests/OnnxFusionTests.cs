using Google.Protobuf;
using Tessera.Onnx.Proto;
using Tessera.OnnxRuntime;
using static Tessera.Onnx.Tests.OnnxModelTests;

namespace Tessera.Onnx.Tests;

/// <summary>
/// Models run with inference fusion give the outputs of the same model run op by op (fuse: false) and of ONNX
/// Runtime: a small CNN holding every fused pattern (Conv+BatchNorm+Relu, residual Add+Relu, depthwise Conv+Clip,
/// projection Conv+Add, MaxPool, Concat, GlobalAveragePool, Gemm), and the torchvision models when cached.
/// </summary>
public class OnnxFusionTests
{
    private static readonly string ModelCache = Path.Combine(
        Environment.GetEnvironmentVariable("XDG_CACHE_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
        "tessera", "onnx");

    private static TensorProto Init(string name, int seed, double std, params int[] shape) =>
        OnnxTensors.FromTensor(Tensor.RandomNormal(seed, DType.Float32, 0, std, shape), name);

    private static NodeProto Node(string op, string[] inputs, string output, params (string Name, object Value)[] attrs)
    {
        var n = new NodeProto { OpType = op, Name = output + "_" + op, Input = { inputs }, Output = { output } };
        foreach (var (name, value) in attrs)
            n.Attribute.Add(value switch
            {
                long i => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = i },
                long[] ints => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints, Ints = { ints } },
                float f => new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = f },
                _ => throw new ArgumentException(name),
            });
        return n;
    }

    private static readonly (string, object)[] Pad1 = [("pads", new long[] { 1, 1, 1, 1 })];

    /// <summary>A residual CNN with every pattern the fusion knows, batch dimension dynamic.</summary>
    internal static ModelProto SmallCnn()
    {
        var g = new GraphProto { Name = "small-cnn" };
        g.Input.Add(Value("x", TensorProto.Types.DataType.Float, -1, 3, 32, 32));
        g.Output.Add(Value("logits", TensorProto.Types.DataType.Float, -1, 10));
        g.Initializer.Add(Init("w1", 1, 0.3, 8, 3, 3, 3));
        g.Initializer.Add(Init("b1", 2, 0.1, 8));
        foreach (var (n, s) in new[] { ("bn_scale", 3), ("bn_bias", 4), ("bn_mean", 5) }) g.Initializer.Add(Init(n, s, 0.5, 8));
        g.Initializer.Add(OnnxTensors.FromTensor(Tensor.RandomUniform(6, DType.Float32, 0.5, 2, 8), "bn_var"));
        g.Initializer.Add(Init("w2", 7, 0.2, 8, 8, 3, 3));
        g.Initializer.Add(Init("w3", 8, 0.2, 8, 8, 3, 3));
        g.Initializer.Add(Init("b3", 9, 0.1, 8));
        g.Initializer.Add(Init("wd", 10, 0.4, 8, 1, 3, 3));
        g.Initializer.Add(OnnxTensors.FromTensor(Tensor.Scalar(0, DType.Float32), "zero"));
        g.Initializer.Add(OnnxTensors.FromTensor(Tensor.Scalar(6, DType.Float32), "six"));
        g.Initializer.Add(Init("wp", 11, 0.3, 8, 8, 1, 1));
        g.Initializer.Add(Init("bp", 12, 0.1, 8));
        g.Initializer.Add(Init("wfc", 13, 0.3, 10, 16));
        g.Initializer.Add(Init("bfc", 14, 0.1, 10));

        g.Node.Add(Node("Conv", ["x", "w1", "b1"], "c1", [("strides", new long[] { 2, 2 }), .. Pad1]));          // 16×16
        g.Node.Add(Node("BatchNormalization", ["c1", "bn_scale", "bn_bias", "bn_mean", "bn_var"], "bn1", ("epsilon", 1e-5f)));
        g.Node.Add(Node("Relu", ["bn1"], "a1"));
        g.Node.Add(Node("MaxPool", ["a1"], "p1", ("kernel_shape", new long[] { 3, 3 }), ("strides", new long[] { 2, 2 }), ("pads", new long[] { 1, 1, 1, 1 })));  // 8×8
        g.Node.Add(Node("Conv", ["p1", "w2"], "c2", Pad1));
        g.Node.Add(Node("Relu", ["c2"], "a2"));
        g.Node.Add(Node("Conv", ["a2", "w3", "b3"], "c3", Pad1));
        g.Node.Add(Node("Add", ["c3", "p1"], "r3"));
        g.Node.Add(Node("Relu", ["r3"], "a3"));
        g.Node.Add(Node("Conv", ["a3", "wd"], "cd", [("group", 8L), .. Pad1]));
        g.Node.Add(Node("Clip", ["cd", "zero", "six"], "a4"));
        g.Node.Add(Node("Conv", ["a4", "wp", "bp"], "cp"));
        g.Node.Add(Node("Add", ["a3", "cp"], "a5"));
        g.Node.Add(Node("Concat", ["a4", "a5"], "cat", ("axis", 1L)));
        g.Node.Add(Node("GlobalAveragePool", ["cat"], "gap"));
        g.Node.Add(Node("Flatten", ["gap"], "flat", ("axis", 1L)));
        g.Node.Add(Node("Gemm", ["flat", "wfc", "bfc"], "logits", ("transB", 1L)));
        var m = new ModelProto { IrVersion = 8, Graph = g, ProducerName = "tessera-tests" };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return m;
    }

    private static float[] Run(IInferenceModel model, Tensor x) =>
        model.Run(new Dictionary<string, Tensor> { [model.Inputs[0].Name] = x })[model.Outputs[0].Name].ToArray<float>();

    [Fact]
    public void Small_cnn_fused_matches_unfused_and_onnx_runtime()
    {
        var bytes = SmallCnn().ToByteArray();
        var path = Path.Combine(Path.GetTempPath(), $"tessera-small-cnn-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, bytes);
        try
        {
            using var fused = OnnxModel.Load(bytes, blockedLayout: false);
            using var plain = OnnxModel.Load(bytes, fuse: false);
            using var ort = OrtModel.Load(path, 1);
            foreach (int batch in new[] { 1, 3 })
            {
                var x = Tensor.RandomNormal(20 + batch, DType.Float32, 0, 1, batch, 3, 32, 32);
                var expected = Run(ort, x);
                AssertClose(expected, Run(plain, x), 1e-4);
                AssertClose(expected, Run(fused, x), 1e-4);
                // Only the BatchNorm folding rounds differently from the op-by-op run.
                AssertClose(Run(plain, x), Run(fused, x), 1e-5);
            }
            var profile = fused.Profile(new Dictionary<string, Tensor> { ["x"] = Tensor.RandomNormal(1, DType.Float32, 0, 1, 1, 3, 32, 32) }, 1);
            Assert.Equal(["Concat", "Conv2d+Add", "Conv2d+Add+Relu", "Conv2d+Clip", "Conv2d+Relu", "MaxPool2d"],
                profile.Keys.Where(k => k.StartsWith("Conv", StringComparison.Ordinal) || k is "MaxPool2d" or "Concat").Order(StringComparer.Ordinal));
            Assert.DoesNotContain("Relu", profile.Keys);
            Assert.DoesNotContain("Clip", profile.Keys);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Small_cnn_with_channel_blocked_convolutions_matches_onnx_runtime_and_converts_only_at_the_borders()
    {
        var bytes = SmallCnn().ToByteArray();
        var path = Path.Combine(Path.GetTempPath(), $"tessera-small-cnn-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, bytes);
        try
        {
            using var blocked = OnnxModel.Load(bytes, blockedLayout: true);
            using var plain = OnnxModel.Load(bytes, fuse: false);
            using var ort = OrtModel.Load(path, 1);
            foreach (int batch in new[] { 1, 3 })
            {
                var x = Tensor.RandomNormal(40 + batch, DType.Float32, 0, 1, batch, 3, 32, 32);
                AssertClose(Run(ort, x), Run(blocked, x), 1e-4);
                AssertClose(Run(plain, x), Run(blocked, x), 1e-4);
            }
            var profile = blocked.Profile(new Dictionary<string, Tensor> { ["x"] = Tensor.RandomNormal(1, DType.Float32, 0, 1, 1, 3, 32, 32) }, 1);
            // The RGB stem reads the plain input; from there every conv (depthwise too), the max-pool and the residual
            // adds stay blocked; only the 8-channel concat (not whole blocks) takes its two inputs out of the layout.
            Assert.Equal(["NchwcConv+Add", "NchwcConv+Add+Relu", "NchwcConv+Relu", "NchwcDepthwiseConv+Clip", "NchwcMaxPool"],
                profile.Keys.Where(k => k.StartsWith("Conv", StringComparison.Ordinal) || k.StartsWith("Nchwc", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
            Assert.Equal(2, profile["NchwcConv+Relu"].Calls);
            Assert.DoesNotContain("ToNchwc", profile.Keys);
            Assert.Equal(2, profile["FromNchwc"].Calls);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("resnet18")]
    [InlineData("mobilenet_v2")]
    [InlineData("squeezenet1_1")]
    public void Torchvision_model_fused_matches_unfused_and_onnx_runtime_when_cached(string name)
    {
        var path = Path.Combine(ModelCache, name + ".onnx");
        if (!File.Exists(path)) return;   // exported by bench/onnx.sh (needs PyTorch); nothing to compare without it
        using var fused = OnnxModel.Load(path, blockedLayout: false);
        using var blocked = OnnxModel.Load(path, blockedLayout: true);
        using var plain = OnnxModel.Load(path, fuse: false);
        using var ort = OrtModel.Load(path, 2);
        var x = Tensor.RandomNormal(3, DType.Float32, 0, 1, 2, 3, 224, 224);
        var expected = Run(ort, x);
        var unfused = Run(plain, x);
        AssertClose(expected, unfused, 1e-4);
        AssertClose(expected, Run(fused, x), 1e-4);
        AssertClose(unfused, Run(fused, x), 0);   // these exports have BatchNorm folded already: fusion is exact
        AssertClose(expected, Run(blocked, x), 1e-4);   // direct convolution: another summation order
    }

    private static void AssertClose(float[] expected, float[] actual, double tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (scale + Math.Abs(expected[i])),
                $"element {i}: {actual[i]} vs expected {expected[i]} (tolerance {tol} relative to max |expected| {scale})");
    }
}

/// <summary>
/// PyTorch's export of avg_pool2d(padding=1) — Pad with zeros, then AveragePool without padding — imported as one
/// pooling of the unpadded input that counts the padding: same values (checked by hand), no Pad op run, and the
/// pattern left alone when the pad value is not zero.
/// </summary>
public class OnnxPadThenAveragePoolTests
{
    private static ModelProto PadPool(float padValue)
    {
        var g = new GraphProto { Name = "padpool" };
        g.Input.Add(Value("x", TensorProto.Types.DataType.Float, 1, 2, 5, 4));
        g.Output.Add(Value("y", TensorProto.Types.DataType.Float, 1, 2, 5, 4));
        g.Initializer.Add(OnnxTensors.FromTensor(Tensor.FromArray(new long[] { 0, 0, 1, 1, 0, 0, 1, 1 }, 8), "pads"));
        g.Initializer.Add(OnnxTensors.FromTensor(Tensor.FromArray(new float[] { padValue }, 1), "value"));
        g.Node.Add(new NodeProto { OpType = "Pad", Name = "pad", Input = { "x", "pads", "value" }, Output = { "xp" } });
        var pool = new NodeProto { OpType = "AveragePool", Name = "pool", Input = { "xp" }, Output = { "y" } };
        pool.Attribute.Add(new AttributeProto { Name = "kernel_shape", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 3, 3 } });
        g.Node.Add(pool);
        var m = new ModelProto { IrVersion = 8, Graph = g, ProducerName = "tessera-tests" };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return m;
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(2f)]
    public void Values_are_the_zero_padded_averages(float padValue)
    {
        var x = Tensor.RandomNormal(3, DType.Float32, 0, 1, 1, 2, 5, 4);
        var xs = x.ToArray<float>();
        var expected = new float[2 * 5 * 4];
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < 5; i++)
                for (int j = 0; j < 4; j++)
                {
                    float sum = 0;
                    for (int di = -1; di <= 1; di++)
                        for (int dj = -1; dj <= 1; dj++)
                        {
                            int r = i + di, q = j + dj;
                            sum += r is >= 0 and < 5 && q is >= 0 and < 4 ? xs[(c * 5 + r) * 4 + q] : padValue;
                        }
                    expected[(c * 5 + i) * 4 + j] = sum / 9;
                }
        var m = PadPool(padValue);
        using var model = OnnxModel.Load(m.ToByteArray());
        AssertClose(expected, model.Run(new Dictionary<string, Tensor> { ["x"] = x })["y"].ToArray<float>());

        var imported = OnnxImporter.Import(m, OnnxImporter.ReadInitializers(m, null), null);
        var reached = new HashSet<Graphs.Node>();
        var stack = new Stack<Graphs.Node>(imported.Outputs);
        while (stack.Count > 0) { var n = stack.Pop(); if (reached.Add(n)) foreach (var i in n.Inputs) stack.Push(i); }
        Assert.Equal(padValue != 0, reached.Any(n => n.Operation is Graphs.PadModeOp));
    }
}
