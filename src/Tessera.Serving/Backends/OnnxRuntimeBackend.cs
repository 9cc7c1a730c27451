using System.Buffers.Binary;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tessera.Serving.Protocol;
using Tessera.Serving.Repository;

namespace Tessera.Serving.Backends;

/// <summary>Loads ONNX models on ONNX Runtime: config <c>engine: onnxruntime</c>, or the fallback when the native engine can't.</summary>
public sealed class OnnxRuntimeBackendFactory : IModelBackendFactory
{
    public string Engine => "onnxruntime";

    public bool Handles(ModelConfig config, string versionDirectory) =>
        File.Exists(Path.Combine(versionDirectory, config.DefaultModelFilename)) &&
        config.DefaultModelFilename.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);

    public IModelBackend Load(ModelConfig config, string versionDirectory) =>
        new OnnxRuntimeBackend(Path.Combine(versionDirectory, config.DefaultModelFilename), config);
}

/// <summary>
/// A model on ONNX Runtime, fed the protocol's raw bytes directly. It does not go through Tessera.OnnxRuntime's
/// OrtModel because that speaks Tessera tensors, which have no INT8/INT16/UINT16+/BF16/STRING dtypes that
/// Triton's examples (simple_int8, simple_string) need; it is the only Serving file that touches ONNX Runtime.
/// </summary>
public sealed class OnnxRuntimeBackend : IModelBackend
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _options;
    // One RunOptions for every run (settings we never change; InferenceSession shares a built-in one the same
    // way) and the output names, instead of a native RunOptions object and a name list per request.
    private readonly RunOptions _runOptions = new();
    private readonly string[] _outputNames;

    public OnnxRuntimeBackend(string path, ModelConfig config)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"model file {Path.GetFileName(path)} not found", path);
        _options = new SessionOptions();
        if (config.Parameters.TryGetValue("intra_op_threads", out var t) && int.TryParse(t, out var threads))
            _options.IntraOpNumThreads = threads;
        // ORT's intra-op workers spin-wait between parallel sections by default. In a server the same cores decode
        // requests and run other instances, and the spinning starves them: resnet18 at concurrency 64 on 2 cores went
        // from 3.3 to 18.1 QPS with it off (docs/benchmarks-serving.md). Off unless allow_spinning is "1".
        bool spin = config.Parameters.TryGetValue("allow_spinning", out var s) && s is "1" or "true";
        _options.AddSessionConfigEntry("session.intra_op.allow_spinning", spin ? "1" : "0");
        try { _session = new InferenceSession(path, _options); }
        catch (OnnxRuntimeException e)
        {
            _options.Dispose();
            throw new InvalidDataException($"ONNX Runtime cannot load {Path.GetFileName(path)}: {e.Message}");
        }
        Inputs = [.. _session.InputMetadata.Select(kv => Spec(kv.Key, kv.Value))];
        Outputs = [.. _session.OutputMetadata.Select(kv => Spec(kv.Key, kv.Value))];
        _outputNames = [.. Outputs.Select(o => o.Name)];
        // The session holds the weights (about the file's size) plus arenas and kernels; twice the file plus
        // a fixed megabyte is the estimate, unless the config names the figure.
        MemoryBytes = config.MemoryBytesOverride ?? new FileInfo(path).Length * 2 + (1 << 20);
    }

    public string Engine => "onnxruntime";
    public IReadOnlyList<TensorSpec> Inputs { get; }
    public IReadOnlyList<TensorSpec> Outputs { get; }
    public long MemoryBytes { get; }

    private static TensorSpec Spec(string name, NodeMetadata m) =>
        new(name, ToDataType(m.ElementDataType), [.. m.Dimensions.Select(d => (long)d)]);

    private static DataType ToDataType(TensorElementType t) => t switch
    {
        TensorElementType.Bool => DataType.Bool,
        TensorElementType.UInt8 => DataType.UInt8,
        TensorElementType.UInt16 => DataType.UInt16,
        TensorElementType.UInt32 => DataType.UInt32,
        TensorElementType.UInt64 => DataType.UInt64,
        TensorElementType.Int8 => DataType.Int8,
        TensorElementType.Int16 => DataType.Int16,
        TensorElementType.Int32 => DataType.Int32,
        TensorElementType.Int64 => DataType.Int64,
        TensorElementType.Float16 => DataType.FP16,
        TensorElementType.BFloat16 => DataType.BF16,
        TensorElementType.Float => DataType.FP32,
        TensorElementType.Double => DataType.FP64,
        TensorElementType.String => DataType.Bytes,
        _ => throw new NotSupportedException($"ONNX element type {t} has no protocol datatype"),
    };

    private static TensorElementType ToOrt(DataType t) => t switch
    {
        DataType.Bool => TensorElementType.Bool,
        DataType.UInt8 => TensorElementType.UInt8,
        DataType.UInt16 => TensorElementType.UInt16,
        DataType.UInt32 => TensorElementType.UInt32,
        DataType.UInt64 => TensorElementType.UInt64,
        DataType.Int8 => TensorElementType.Int8,
        DataType.Int16 => TensorElementType.Int16,
        DataType.Int32 => TensorElementType.Int32,
        DataType.Int64 => TensorElementType.Int64,
        DataType.FP16 => TensorElementType.Float16,
        DataType.BF16 => TensorElementType.BFloat16,
        DataType.FP32 => TensorElementType.Float,
        DataType.FP64 => TensorElementType.Double,
        _ => TensorElementType.String,
    };

    public IReadOnlyList<InferTensor> Infer(IReadOnlyList<InferTensor> inputs, IReadOnlyCollection<string>? outputs)
    {
        var values = new OrtValue[inputs.Count];
        var names = new string[inputs.Count];
        try
        {
            for (int i = 0; i < inputs.Count; i++)
            {
                names[i] = inputs[i].Name;
                values[i] = ToOrtValue(inputs[i]);
            }
            var outNames = outputs ?? _outputNames;
            using var results = _session.Run(_runOptions, names, values, outNames);
            var list = new List<InferTensor>(results.Count);
            int k = 0;
            foreach (var name in outNames) list.Add(FromOrtValue(name, results[k++]));
            return list;
        }
        finally
        {
            foreach (var v in values) v?.Dispose();
        }
    }

    private static OrtValue ToOrtValue(InferTensor t)
    {
        if (t.DataType == DataType.Bytes)
        {
            var value = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, t.Shape);
            int i = 0;
            foreach (var e in t.GetElements()) value.StringTensorSetElementAt(Encoding.UTF8.GetString(e.Span).AsSpan(), i++);
            return value;
        }
        var v = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, ToOrt(t.DataType), t.Shape);
        t.Data.Span.CopyTo(v.GetTensorMutableRawData());
        return v;
    }

    private static InferTensor FromOrtValue(string name, OrtValue v)
    {
        var info = v.GetTensorTypeAndShape();
        var type = ToDataType(info.ElementDataType);
        long[] shape = info.Shape;
        if (type != DataType.Bytes) return new InferTensor(name, type, shape, v.GetTensorMutableRawData().ToArray());
        long n = info.ElementCount;
        var parts = new byte[n][];
        int total = 0;
        for (int i = 0; i < n; i++) { parts[i] = Encoding.UTF8.GetBytes(v.GetStringElement(i)); total += 4 + parts[i].Length; }
        var data = new byte[total];
        int offset = 0;
        foreach (var p in parts)
        {
            BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(offset), p.Length);
            p.CopyTo(data, offset + 4);
            offset += 4 + p.Length;
        }
        return new InferTensor(name, type, shape, data);
    }

    public void Dispose()
    {
        _session.Dispose();
        _runOptions.Dispose();
        _options.Dispose();
    }
}
