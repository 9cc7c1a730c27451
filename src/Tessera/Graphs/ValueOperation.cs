namespace Tessera.Graphs;

/// <summary>
/// An op whose inputs or output may be values other than tensors (sequences, optionals, the tuple of a control-flow
/// op's outputs), or whose output shape is known only by computing it (Loop, Scan, If). The executor calls
/// <see cref="Evaluate"/> instead of allocating an output: the op returns a fresh value that no buffer slot backs and
/// that no later run writes into (tensors it keeps from its inputs are copied), so memory planning treats it as an
/// ordinary producer. These ops have no gradient rule.
/// </summary>
public abstract class ValueOperation : Operation
{
    /// <summary>
    /// Computes the output from the input values (a <see cref="Tensor"/>, <see cref="TensorSequence"/>,
    /// <see cref="OptionalValue"/> or <see cref="OutputTuple"/> each; null where an optional input is absent).
    /// </summary>
    public abstract object Evaluate(ReadOnlySpan<object?> inputs);

    public sealed override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) =>
        throw new NotSupportedException($"{Name} computes its own output value (ValueOperation.Evaluate).");

    public override Node?[] Gradient(Node output, Node gradOutput) =>
        throw new NotSupportedException($"{Name} is not differentiable: control-flow and sequence ops have no gradient rule.");

    protected static Tensor AsTensor(object? v, string op, string what) =>
        v as Tensor ?? throw new ArgumentException($"{op}: {what} is {Describe(v)}, expected a tensor.");

    protected static TensorSequence AsSequence(object? v, string op, string what) =>
        v as TensorSequence ?? throw new ArgumentException($"{op}: {what} is {Describe(v)}, expected a sequence.");

    public static string Describe(object? v) => v switch
    {
        null => "absent",
        Tensor t => $"a tensor {t.DType.Name()} {t.ShapeString}",
        TensorSequence s => $"a sequence of {s.Count} tensors",
        OptionalValue o => o.HasElement ? $"an optional holding {Describe(o.Element)}" : "an empty optional",
        _ => v.GetType().Name,
    };
}

/// <summary>An immutable list of tensors (ONNX sequence). Its tensors are owned copies: no executor buffer backs them.</summary>
public sealed class TensorSequence(DType elementDType, IReadOnlyList<Tensor> items) : IReadOnlyList<Tensor>
{
    private readonly Tensor[] _items = [.. items];
    public DType ElementDType { get; } = elementDType;
    public int Count => _items.Length;
    public Tensor this[int index] => _items[index];
    public IEnumerator<Tensor> GetEnumerator() => ((IEnumerable<Tensor>)_items).GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => _items.GetEnumerator();
    public override string ToString() => $"sequence<{ElementDType.Name()}>[{string.Join(", ", _items.Select(t => t.ShapeString))}]";
}

/// <summary>An ONNX optional: a tensor, a sequence, or nothing (an empty optional still has an element type).</summary>
public sealed class OptionalValue
{
    public OptionalValue(Tensor element) { Element = element; ElementDType = element.DType; }
    public OptionalValue(TensorSequence element) { Element = element; ElementDType = element.ElementDType; OfSequence = true; }
    private OptionalValue(DType dtype, bool ofSequence) { ElementDType = dtype; OfSequence = ofSequence; }

    /// <summary>An empty optional of tensors (or of sequences) of <paramref name="dtype"/>.</summary>
    public static OptionalValue Empty(DType dtype, bool ofSequence = false) => new(dtype, ofSequence);

    /// <summary>The tensor or <see cref="TensorSequence"/> held, or null.</summary>
    public object? Element { get; }
    public DType ElementDType { get; }
    public bool OfSequence { get; }
    public bool HasElement => Element is not null;
    public override string ToString() => HasElement ? $"optional({Element})" : $"optional<{ElementDType.Name()}>(empty)";
}

/// <summary>All outputs of one multi-output <see cref="ValueOperation"/>; <see cref="TupleItemOp"/> reads one.</summary>
public sealed class OutputTuple(object[] items)
{
    public object[] Items { get; } = items;
}

/// <summary>Output <paramref name="index"/> of a multi-output op's <see cref="OutputTuple"/>, of the type the op declared.</summary>
public sealed class TupleItemOp(int index, TensorType type) : ValueOperation
{
    public int Index { get; } = index;
    public override string Name => $"Output{Index}";
    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) => type;
    public override object Evaluate(ReadOnlySpan<object?> inputs) => ((OutputTuple)inputs[0]!).Items[Index];
}

/// <summary>Run-time checks that a value is of a declared kind (binding inputs, loop-carried values).</summary>
public static class ValueKinds
{
    public static ValueKind KindOf(object v) => v switch
    {
        Tensor => ValueKind.Tensor,
        TensorSequence => ValueKind.Sequence,
        OptionalValue { OfSequence: true } => ValueKind.OptionalSequence,
        OptionalValue => ValueKind.Optional,
        _ => ValueKind.Tuple,
    };

    /// <summary>The exact type of a run-time value (element shape of a sequence when all its elements agree).</summary>
    public static TensorType TypeOf(object v, TensorType declared)
    {
        switch (v)
        {
            case Tensor t: return new TensorType(t.DType, t.ShapeArray());
            case TensorSequence s:
                if (s.Count == 0) return declared.Kind == ValueKind.Sequence ? declared : TensorType.Of(ValueKind.Sequence, s.ElementDType, [], true);
                var shape = s[0].ShapeArray();
                bool sameRank = s.All(e => e.Rank == shape.Length);
                if (sameRank)
                    foreach (var e in s)
                        for (int d = 0; d < shape.Length; d++) if (e.Shape[d] != shape[d]) shape[d] = -1;
                return TensorType.Of(ValueKind.Sequence, s.ElementDType, sameRank ? shape : [], !sameRank);
            case OptionalValue o:
                if (o.Element is null) return TensorType.Of(o.OfSequence ? ValueKind.OptionalSequence : ValueKind.Optional, o.ElementDType, [], true);
                var inner = TypeOf(o.Element, declared.Element);
                return inner with { Kind = inner.Kind == ValueKind.Sequence ? ValueKind.OptionalSequence : ValueKind.Optional };
            default: throw new ArgumentException($"{v.GetType().Name} is no graph value.");
        }
    }

    /// <summary>Throws unless <paramref name="value"/> is of <paramref name="declared"/>'s kind and element dtype.</summary>
    public static void Check(TensorType declared, object value, string what)
    {
        var kind = KindOf(value);
        if (kind != declared.Kind) throw new ArgumentException($"{what} is declared {declared}, was given {ValueOperation.Describe(value)}.");
        DType? dtype = value switch
        {
            Tensor t => t.DType,
            TensorSequence s => s.ElementDType,
            OptionalValue o => o.ElementDType,
            _ => null,
        };
        if (dtype is { } d && d != declared.DType)
            throw new DTypeMismatchException(what, $"declared with elements of {declared.DType.Name()}, was given {d.Name()}");
    }
}
