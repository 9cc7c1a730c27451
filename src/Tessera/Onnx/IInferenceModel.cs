namespace Tessera.Onnx;

/// <summary>Name, dtype and shape of a model input or output; -1 marks a dimension fixed only at run time.</summary>
public sealed record TensorInfo(string Name, DType DType, int[] Shape)
{
    /// <summary>Tensor, or (native engine, ONNX sequence/optional values) the container whose elements DType and Shape describe.</summary>
    public Graphs.ValueKind Kind { get; init; }
    public override string ToString() => Kind == Graphs.ValueKind.Tensor ? $"{Name}: {DType.Name()} {ShapeMath.Format(Shape)}"
        : $"{Name}: {new Graphs.TensorType(DType, Shape) { Kind = Kind }}";
}

/// <summary>
/// A model that maps named input tensors to named output tensors. Implemented natively by <see cref="OnnxModel"/>
/// and on ONNX Runtime by Tessera.OnnxRuntime, so callers (and the server) choose the engine per model.
/// Implementations are safe to call from several threads at once.
/// </summary>
public interface IInferenceModel : IDisposable
{
    IReadOnlyList<TensorInfo> Inputs { get; }
    IReadOnlyList<TensorInfo> Outputs { get; }

    /// <summary>Runs the model. Every input must be given; the result holds every output by name.</summary>
    Dictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs);
}
