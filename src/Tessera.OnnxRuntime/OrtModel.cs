using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tessera.Onnx;

namespace Tessera.OnnxRuntime;

/// <summary>
/// An ONNX model run by ONNX Runtime behind Tessera's <see cref="IInferenceModel"/>, so callers choose the engine per
/// model. <see cref="InferenceSession.Run(RunOptions, IReadOnlyCollection{string}, IReadOnlyCollection{OrtValue}, IReadOnlyCollection{string})"/>
/// is thread-safe, so one session serves concurrent calls.
/// </summary>
/// <example><code>
/// using IInferenceModel model = OrtModel.Load("resnet18.onnx", threads: 2);
/// var logits = model.Run(new Dictionary&lt;string, Tensor&gt; { ["input"] = image })["logits"];
/// </code></example>
public sealed class OrtModel : IInferenceModel
{
    private readonly InferenceSession _session;
    private readonly TensorInfo[] _inputs, _outputs;

    private OrtModel(InferenceSession session)
    {
        _session = session;
        _inputs = [.. session.InputMetadata.Select(kv => Info(kv.Key, kv.Value))];
        _outputs = [.. session.OutputMetadata.Select(kv => Info(kv.Key, kv.Value))];
    }

    /// <summary>Loads a model file; <paramref name="threads"/> caps ONNX Runtime's intra-op thread pool (0 = its default).</summary>
    public static OrtModel Load(string path, int threads = 0)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (threads > 0) { options.IntraOpNumThreads = threads; options.InterOpNumThreads = 1; }
        try { return new OrtModel(new InferenceSession(path, options)); }
        catch (OnnxRuntimeException e) { throw new OnnxFormatException($"ONNX Runtime could not load {path}: {e.Message}", e); }
    }

    public IReadOnlyList<TensorInfo> Inputs => _inputs;
    public IReadOnlyList<TensorInfo> Outputs => _outputs;

    private static TensorInfo Info(string name, NodeMetadata m) =>
        new(name, m.IsTensor ? ToDType(m.ElementDataType) : DType.Float32, [.. m.Dimensions.Select(d => d < 0 ? -1 : d)]);

    private static DType ToDType(TensorElementType t) => t switch
    {
        TensorElementType.Float => DType.Float32,
        TensorElementType.Double => DType.Float64,
        TensorElementType.Int32 => DType.Int32,
        TensorElementType.Int64 => DType.Int64,
        TensorElementType.UInt8 => DType.UInt8,
        TensorElementType.Bool => DType.Bool,
        TensorElementType.Float16 => DType.Float16,
        _ => throw new OnnxUnsupportedException($"ONNX Runtime element type {t} has no Tessera dtype."),
    };

    public Dictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        foreach (var info in _inputs)
        {
            if (!inputs.TryGetValue(info.Name, out var t))
                throw new ArgumentException($"Input '{info.Name}' ({info.DType.Name()} {ShapeMath.Format(info.Shape)}) is missing.");
            if (t.DType != info.DType)
                throw new ArgumentException($"Input '{info.Name}' expects dtype {info.DType.Name()}, was given {t.DType.Name()}.");
        }
        var names = _inputs.Select(i => i.Name).ToArray();
        var values = new List<OrtValue>();
        try
        {
            foreach (var n in names) values.Add(ToOrt(inputs[n]));
            using var runOptions = new RunOptions();
            using var results = _session.Run(runOptions, names, values, [.. _outputs.Select(o => o.Name)]);
            var dict = new Dictionary<string, Tensor>();
            int k = 0;
            foreach (var r in results) dict[_outputs[k++].Name] = FromOrt(r);
            return dict;
        }
        finally { foreach (var v in values) v.Dispose(); }
    }

    private static OrtValue ToOrt(Tensor t)
    {
        var shape = t.Shape.ToArray().Select(d => (long)d).ToArray();
        var c = t.Contiguous();
        return c.DType switch
        {
            DType.Float32 => OrtValue.CreateTensorValueFromMemory(c.ToArray<float>(), shape),
            DType.Float64 => OrtValue.CreateTensorValueFromMemory(c.ToArray<double>(), shape),
            DType.Int32 => OrtValue.CreateTensorValueFromMemory(c.ToArray<int>(), shape),
            DType.Int64 => OrtValue.CreateTensorValueFromMemory(c.ToArray<long>(), shape),
            DType.UInt8 => OrtValue.CreateTensorValueFromMemory(c.ToArray<byte>(), shape),
            DType.Bool => OrtValue.CreateTensorValueFromMemory(c.ToArray<bool>(), shape),
            _ => throw new OnnxUnsupportedException($"dtype {t.DType.Name()} is not passed to ONNX Runtime."),
        };
    }

    private static Tensor FromOrt(OrtValue v)
    {
        var info = v.GetTensorTypeAndShape();
        var shape = info.Shape.Select(d => checked((int)d)).ToArray();
        return info.ElementDataType switch
        {
            TensorElementType.Float => Tensor.FromArray(v.GetTensorDataAsSpan<float>().ToArray(), shape),
            TensorElementType.Double => Tensor.FromArray(v.GetTensorDataAsSpan<double>().ToArray(), shape),
            TensorElementType.Int32 => Tensor.FromArray(v.GetTensorDataAsSpan<int>().ToArray(), shape),
            TensorElementType.Int64 => Tensor.FromArray(v.GetTensorDataAsSpan<long>().ToArray(), shape),
            TensorElementType.UInt8 => Tensor.FromArray(v.GetTensorDataAsSpan<byte>().ToArray(), shape),
            TensorElementType.Bool => Tensor.FromArray(v.GetTensorDataAsSpan<bool>().ToArray(), shape),
            var t => throw new OnnxUnsupportedException($"ONNX Runtime output type {t} has no Tessera dtype."),
        };
    }

    public void Dispose() => _session.Dispose();
}
