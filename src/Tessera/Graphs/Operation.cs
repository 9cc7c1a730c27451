namespace Tessera.Graphs;

/// <summary>
/// What a node's value is: a tensor (<see cref="Node.Value"/>), or one of the container values that ONNX control flow
/// passes around (<see cref="Node.Boxed"/>): a <see cref="TensorSequence"/>, an <see cref="OptionalValue"/> of a tensor
/// or of a sequence, or the <see cref="OutputTuple"/> of all outputs of a multi-output <see cref="ValueOperation"/>.
/// Only <see cref="ValueOperation"/>s read the container kinds.
/// </summary>
public enum ValueKind : byte { Tensor, Sequence, Optional, OptionalSequence, Tuple }

/// <summary>
/// The dtype and shape of a value. At graph-build time a dimension may be -1 (known only at run time). For the
/// container kinds DType and Shape describe the element tensors; <see cref="ElementRankUnknown"/> marks a sequence
/// whose elements' rank is not known (an empty sequence declared without a shape).
/// </summary>
public readonly record struct TensorType(DType DType, int[] Shape)
{
    public ValueKind Kind { get; init; }
    public bool ElementRankUnknown { get; init; }
    public int Rank => Shape.Length;
    public bool IsFullyKnown => Array.IndexOf(Shape, -1) < 0;
    public bool IsTensor => Kind == ValueKind.Tensor;
    /// <summary>The type of this container's elements (a sequence's tensors, an optional's content).</summary>
    public TensorType Element => Kind == ValueKind.OptionalSequence ? this with { Kind = ValueKind.Sequence } : this with { Kind = ValueKind.Tensor, ElementRankUnknown = false };
    public static TensorType Of(ValueKind kind, DType dtype, int[] shape, bool rankUnknown = false) => new(dtype, shape) { Kind = kind, ElementRankUnknown = rankUnknown };
    public static readonly TensorType Tuple = new(DType.Float32, []) { Kind = ValueKind.Tuple };
    public override string ToString()
    {
        var t = $"{DType.Name()} {(ElementRankUnknown ? "(rank ?)" : ShapeMath.Format(Shape))}";
        return Kind switch
        {
            ValueKind.Tensor => t,
            ValueKind.Sequence => $"sequence<{t}>",
            ValueKind.Optional => $"optional<{t}>",
            ValueKind.OptionalSequence => $"optional<sequence<{t}>>",
            _ => "tuple",
        };
    }
}

/// <summary>
/// One operator of the registry: its type rule, forward kernel and gradient rule live together in one class.
/// The graph builder, autodiff, the executor (and the ONNX importer/exporter) all go through this surface.
/// </summary>
public abstract class Operation
{
    /// <summary>Short name used in errors and graph dumps (e.g. "MatMul").</summary>
    public abstract string Name { get; }

    /// <summary>
    /// The output dtype and shape for the given input types; throws <see cref="ShapeMismatchException"/> or
    /// <see cref="DTypeMismatchException"/> naming this op and the offending shapes or dtypes. Called when the node
    /// is built (shapes may hold -1) and again by the executor whenever the run-time input shapes change.
    /// </summary>
    public abstract TensorType InferType(ReadOnlySpan<TensorType> inputs);

    /// <summary>
    /// The type rule when some input values are at hand: <paramref name="values"/>[i] is the value of input i when it
    /// is known (a constant at build time; every input at run time for <see cref="ValueDependentShape"/> ops), else
    /// null. Ops whose output shape is read from an input tensor (ONNX Reshape, Expand, Slice, Tile ... with shape
    /// inputs) override it; the default ignores the values.
    /// </summary>
    public virtual TensorType InferType(ReadOnlySpan<TensorType> inputs, ReadOnlySpan<Tensor?> values) => InferType(inputs);

    /// <summary>True when the output shape depends on input values, so machines re-run the type rule on every run.</summary>
    public virtual bool ValueDependentShape => false;

    /// <summary>Computes the output into <paramref name="output"/> (contiguous, of the inferred type). Kernels do no validation.</summary>
    public abstract void Forward(ReadOnlySpan<Tensor> inputs, Tensor output);

    /// <summary>True for ops whose output is a zero-copy view of an input (reshape, permute ...).</summary>
    public virtual bool IsView => false;

    /// <summary>For view ops: the output as a view of the inputs.</summary>
    public virtual Tensor ForwardView(ReadOnlySpan<Tensor> inputs) => throw new NotSupportedException($"{Name} is not a view op.");

    /// <summary>
    /// Symbolic gradient: nodes computing ∂L/∂input for each input, given the output node and ∂L/∂output.
    /// A null entry means no gradient flows to that input (integer indices, masks, non-differentiable ops).
    /// The returned nodes are ordinary graph nodes, so gradients can be differentiated again.
    /// </summary>
    public virtual Node?[] Gradient(Node output, Node gradOutput) =>
        throw new NotSupportedException($"{Name} has no gradient rule.");

    public override string ToString() => Name;

    // ---- helpers shared by type rules -------------------------------------------------------------------------

    protected void ExpectInputs(ReadOnlySpan<TensorType> inputs, int count)
    {
        if (inputs.Length != count)
            throw new ArgumentException($"{Name}: expected {count} inputs, got {inputs.Length}.");
    }

    protected void ExpectSameDType(TensorType a, TensorType b)
    {
        if (a.DType != b.DType)
            throw new DTypeMismatchException(Name, $"dtypes {a.DType.Name()} and {b.DType.Name()} differ (cast one of them)");
    }

    protected void ExpectFloat(TensorType a)
    {
        if (a.DType is not (DType.Float32 or DType.Float64))
            throw new DTypeMismatchException(Name, $"dtype {a.DType.Name()} is not supported (float32 or float64)");
    }

    protected void ExpectNumeric(TensorType a)
    {
        if (a.DType is DType.Bool or DType.Float16 or DType.BFloat16)
            throw new DTypeMismatchException(Name, $"dtype {a.DType.Name()} is not supported (cast to float32 first)");
    }
}
