using System.Runtime.InteropServices;
using Tessera.Onnx;
using Tessera.Serving.Protocol;
using Tessera.Serving.Repository;

namespace Tessera.Serving.Backends;

/// <summary>Loads ONNX models on Tessera's own engine (<see cref="OnnxModel"/>), the default.</summary>
public sealed class TesseraOnnxBackendFactory : IModelBackendFactory
{
    public string Engine => "tessera";

    public bool Handles(ModelConfig config, string versionDirectory) =>
        config.DefaultModelFilename.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) &&
        File.Exists(Path.Combine(versionDirectory, config.DefaultModelFilename)) &&
        config.Inputs.Concat(config.Outputs).All(t => TesseraOnnxBackend.TryToDType(t.DataType, out _));

    public IModelBackend Load(ModelConfig config, string versionDirectory) =>
        new TesseraOnnxBackend(Path.Combine(versionDirectory, config.DefaultModelFilename), config);
}

/// <summary>An ONNX model run natively by Tessera's graph engine; tensors convert at the boundary.</summary>
public sealed class TesseraOnnxBackend : IModelBackend
{
    private readonly OnnxModel _model;

    public TesseraOnnxBackend(string path, ModelConfig config)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"model file {Path.GetFileName(path)} not found", path);
        _model = OnnxModel.Load(path);
        try
        {
            Inputs = [.. _model.Inputs.Select(Spec)];
            Outputs = [.. _model.Outputs.Select(Spec)];
        }
        catch
        {
            _model.Dispose();
            throw;
        }
        // Initializers are read once and shared by the pooled graphs; twice the file covers them and the
        // activations of a few concurrent runs for the small models this is used for.
        MemoryBytes = config.MemoryBytesOverride ?? new FileInfo(path).Length * 2 + (1 << 20);
    }

    public string Engine => "tessera";
    public IReadOnlyList<TensorSpec> Inputs { get; }
    public IReadOnlyList<TensorSpec> Outputs { get; }
    public long MemoryBytes { get; }

    private static TensorSpec Spec(TensorInfo t) => new(t.Name, ToDataType(t.DType), [.. t.Shape.Select(d => (long)d)]);

    internal static bool TryToDType(DataType t, out DType d)
    {
        (bool ok, d) = t switch
        {
            DataType.FP32 => (true, DType.Float32),
            DataType.FP64 => (true, DType.Float64),
            DataType.Int32 => (true, DType.Int32),
            DataType.Int64 => (true, DType.Int64),
            DataType.UInt8 => (true, DType.UInt8),
            DataType.Bool => (true, DType.Bool),
            DataType.FP16 => (true, DType.Float16),
            _ => (false, default(DType)),
        };
        return ok;
    }

    private static DataType ToDataType(DType d) => d switch
    {
        DType.Float32 => DataType.FP32,
        DType.Float64 => DataType.FP64,
        DType.Int32 => DataType.Int32,
        DType.Int64 => DataType.Int64,
        DType.UInt8 => DataType.UInt8,
        DType.Bool => DataType.Bool,
        DType.Float16 => DataType.FP16,
        _ => throw new NotSupportedException($"Tessera dtype {d} has no protocol datatype"),
    };

    public IReadOnlyList<InferTensor> Infer(IReadOnlyList<InferTensor> inputs, IReadOnlyCollection<string>? outputs)
    {
        var feed = new Dictionary<string, Tensor>(inputs.Count);
        try
        {
            foreach (var t in inputs) feed[t.Name] = ToTensor(t);
            var result = _model.Run(feed);
            var list = new List<InferTensor>();
            foreach (var spec in Outputs)
                if (outputs is null || outputs.Contains(spec.Name)) list.Add(FromTensor(spec.Name, result[spec.Name]));
            return list;
        }
        finally
        {
            // The inputs' buffers go back to the tensor pool: a 600 KB image per request would otherwise be a
            // large-object-heap allocation (zeroed, then collected in gen 2) on every call.
            foreach (var t in feed.Values) t.Dispose();
        }
    }

    /// <summary>The request's bytes copied once into a pooled tensor of the input's dtype and shape.</summary>
    private static Tensor ToTensor(InferTensor t)
    {
        int[] shape = [.. t.Shape.Select(d => checked((int)d))];
        if (!TryToDType(t.DataType, out var dtype))
            throw new NotSupportedException($"the native engine has no {t.DataType.Name()} tensors");
        var tensor = Tensor.Empty(dtype, shape);
        try
        {
            var bytes = dtype switch
            {
                DType.Float32 => MemoryMarshal.AsBytes(tensor.AsSpan<float>()),
                DType.Float64 => MemoryMarshal.AsBytes(tensor.AsSpan<double>()),
                DType.Int32 => MemoryMarshal.AsBytes(tensor.AsSpan<int>()),
                DType.Int64 => MemoryMarshal.AsBytes(tensor.AsSpan<long>()),
                DType.UInt8 => tensor.AsSpan<byte>(),
                DType.Bool => MemoryMarshal.AsBytes(tensor.AsSpan<bool>()),
                DType.Float16 => MemoryMarshal.AsBytes(tensor.AsSpan<Half>()),
                _ => throw new NotSupportedException($"the native engine has no {t.DataType.Name()} tensors"),
            };
            if (t.Data.Length != bytes.Length)
                throw new ArgumentException($"input {t.Name}: {t.Data.Length} bytes for shape [{string.Join(", ", shape)}] of {t.DataType.Name()}, expected {bytes.Length}");
            t.Data.Span.CopyTo(bytes);
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    private static InferTensor FromTensor(string name, Tensor t)
    {
        long[] shape = [.. t.ShapeArray().Select(d => (long)d)];
        var c = t.Contiguous();
        byte[] data = t.DType switch
        {
            DType.Float32 => MemoryMarshal.AsBytes(c.AsSpan<float>()).ToArray(),
            DType.Float64 => MemoryMarshal.AsBytes(c.AsSpan<double>()).ToArray(),
            DType.Int32 => MemoryMarshal.AsBytes(c.AsSpan<int>()).ToArray(),
            DType.Int64 => MemoryMarshal.AsBytes(c.AsSpan<long>()).ToArray(),
            DType.UInt8 => c.AsSpan<byte>().ToArray(),
            DType.Bool => MemoryMarshal.AsBytes(c.AsSpan<bool>()).ToArray(),
            DType.Float16 => MemoryMarshal.AsBytes(c.AsSpan<Half>()).ToArray(),
            _ => throw new NotSupportedException($"Tessera dtype {t.DType} has no protocol datatype"),
        };
        return new InferTensor(name, ToDataType(t.DType), shape, data);
    }

    public void Dispose() => _model.Dispose();
}
