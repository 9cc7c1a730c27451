namespace Tessera.Graphs;

/// <summary>
/// ONNX sequence and optional values (<see cref="TensorSequence"/>, <see cref="OptionalValue"/>). Each op's type rule
/// and evaluation live together; tensors entering a container are copied, so a container never aliases an executor
/// buffer that a later step overwrites.
/// </summary>
public abstract class SequenceOpBase : ValueOperation
{
    protected static TensorType Sequence(TensorType element) => element with { Kind = ValueKind.Sequence };

    protected TensorType ExpectSequence(TensorType t, string what) =>
        t.Kind == ValueKind.Sequence ? t : throw new ArgumentException($"{Name}: {what} is a {t}, expected a sequence.");

    protected TensorType ExpectTensor(TensorType t, string what) =>
        t.IsTensor ? t : throw new ArgumentException($"{Name}: {what} is a {t}, expected a tensor.");

    /// <summary>
    /// The element type covering both: same dtype; dims that differ become -1, ranks that differ unknown. An unknown
    /// element rank (SequenceEmpty's) constrains nothing, so joining it with a tensor type gives that type.
    /// </summary>
    protected TensorType Join(TensorType seq, TensorType element)
    {
        if (seq.DType != element.DType)
            throw new DTypeMismatchException(Name, $"a sequence of {seq.DType.Name()} cannot take a {element.DType.Name()} tensor");
        return JoinElements(seq, element);
    }

    /// <summary>The sequence type whose elements cover both element types (dtypes already equal).</summary>
    public static TensorType JoinElements(TensorType a, TensorType b)
    {
        if (a.ElementRankUnknown) return b with { Kind = ValueKind.Sequence };
        if (b.ElementRankUnknown) return a with { Kind = ValueKind.Sequence };
        if (a.Rank != b.Rank) return TensorType.Of(ValueKind.Sequence, a.DType, [], rankUnknown: true);
        return TensorType.Of(ValueKind.Sequence, a.DType, [.. a.Shape.Select((d, i) => d == b.Shape[i] ? d : -1)]);
    }

    /// <summary>A position input (scalar integer tensor) normalized against <paramref name="count"/>; -count..max allowed.</summary>
    protected int Position(object? v, int count, int max)
    {
        var t = AsTensor(v, Name, "position");
        if (t.Length != 1 || !t.DType.IsInteger()) throw new ArgumentException($"{Name}: position must be one integer, is {t.DType.Name()} {t.ShapeString}.");
        long p = (long)t.GetDouble(0);
        if (p < -count || p > max) throw new ArgumentOutOfRangeException(null, $"{Name}: position {p} is out of range for a sequence of {count} tensors.");
        return (int)(p < 0 ? p + count : p);
    }

    protected TensorSequence With(TensorSequence s, Action<List<Tensor>> change)
    {
        var items = s.ToList();
        change(items);
        return new TensorSequence(s.ElementDType, items);
    }
}

public sealed class SequenceEmptyOp(DType dtype) : SequenceOpBase
{
    public override string Name => "SequenceEmpty";
    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) => TensorType.Of(ValueKind.Sequence, dtype, [], rankUnknown: true);
    public override object Evaluate(ReadOnlySpan<object?> inputs) => new TensorSequence(dtype, []);
}

public sealed class SequenceConstructOp : SequenceOpBase
{
    public override string Name => "SequenceConstruct";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        if (inputs.Length == 0) throw new ArgumentException($"{Name}: needs at least one tensor.");
        var seq = Sequence(ExpectTensor(inputs[0], "input 0"));
        for (int i = 1; i < inputs.Length; i++) seq = Join(seq, ExpectTensor(inputs[i], $"input {i}"));
        return seq;
    }

    public override object Evaluate(ReadOnlySpan<object?> inputs)
    {
        var items = new Tensor[inputs.Length];
        for (int i = 0; i < items.Length; i++) items[i] = AsTensor(inputs[i], Name, $"input {i}").Clone();
        return new TensorSequence(items[0].DType, items);
    }
}

/// <summary>Inputs: sequence, tensor, optional position (default: append).</summary>
public sealed class SequenceInsertOp : SequenceOpBase
{
    public override string Name => "SequenceInsert";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) =>
        Join(ExpectSequence(inputs[0], "input 0"), ExpectTensor(inputs[1], "input 1"));

    public override object Evaluate(ReadOnlySpan<object?> inputs)
    {
        var s = AsSequence(inputs[0], Name, "input 0");
        var t = AsTensor(inputs[1], Name, "input 1");
        if (t.DType != s.ElementDType) throw new DTypeMismatchException(Name, $"a sequence of {s.ElementDType.Name()} cannot take a {t.DType.Name()} tensor");
        int at = inputs.Length > 2 ? Position(inputs[2], s.Count, s.Count) : s.Count;
        var copy = t.Clone();
        return With(s, l => l.Insert(at, copy));
    }
}

/// <summary>Inputs: sequence, position. Output: that tensor (the sequence's own copy, which nothing writes into).</summary>
public sealed class SequenceAtOp : SequenceOpBase
{
    public override string Name => "SequenceAt";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        var s = ExpectSequence(inputs[0], "input 0");
        if (s.ElementRankUnknown) throw new NotSupportedException($"{Name}: the elements' rank is unknown when the graph is built ({s}).");
        return s.Element;
    }

    public override object Evaluate(ReadOnlySpan<object?> inputs)
    {
        var s = AsSequence(inputs[0], Name, "input 0");
        return s[Position(inputs[1], s.Count, s.Count - 1)];
    }
}

/// <summary>Inputs: sequence, optional position (default: the last).</summary>
public sealed class SequenceEraseOp : SequenceOpBase
{
    public override string Name => "SequenceErase";
    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) => ExpectSequence(inputs[0], "input 0");

    public override object Evaluate(ReadOnlySpan<object?> inputs)
    {
        var s = AsSequence(inputs[0], Name, "input 0");
        if (s.Count == 0) throw new ArgumentException($"{Name}: the sequence is empty.");
        int at = inputs.Length > 1 ? Position(inputs[1], s.Count, s.Count - 1) : s.Count - 1;
        return With(s, l => l.RemoveAt(at));
    }
}

public sealed class SequenceLengthOp : SequenceOpBase
{
    public override string Name => "SequenceLength";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectSequence(inputs[0], "input 0");
        return new TensorType(DType.Int64, []);
    }

    public override object Evaluate(ReadOnlySpan<object?> inputs) => Tensor.Scalar((long)AsSequence(inputs[0], Name, "input 0").Count);
}

/// <summary>
/// Inputs: tensor, optional split (a scalar chunk length, the last chunk shorter; or 1-D lengths). Without split the
/// axis is cut into length-1 pieces, squeezed away unless keepdims.
/// </summary>
public sealed class SplitToSequenceOp(int axis, bool keepDims) : SequenceOpBase
{
    public override string Name => "SplitToSequence";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        var x = ExpectTensor(inputs[0], "input 0");
        int a = ShapeMath.NormalizeAxis(axis, x.Rank, Name);
        var shape = x.Shape.ToList();
        if (inputs.Length < 2 && !keepDims) shape.RemoveAt(a);
        else shape[a] = inputs.Length < 2 ? 1 : -1;
        return TensorType.Of(ValueKind.Sequence, x.DType, [.. shape]);
    }

    public override object Evaluate(ReadOnlySpan<object?> inputs)
    {
        var x = AsTensor(inputs[0], Name, "input 0");
        int a = ShapeMath.NormalizeAxis(axis, x.Rank, Name), n = x.Shape[a];
        var lengths = new List<int>();
        if (inputs.Length < 2) lengths.AddRange(Enumerable.Repeat(1, n));
        else
        {
            var split = AsTensor(inputs[1], Name, "split");
            var values = Enumerable.Range(0, split.Length).Select(i => (long)split.GetDouble(i)).ToArray();
            if (split.Rank == 0)
            {
                if (values[0] <= 0) throw new ArgumentException($"{Name}: split length {values[0]} must be positive.");
                for (long at = 0; at < n; at += values[0]) lengths.Add((int)Math.Min(values[0], n - at));
            }
            else
            {
                if (values.Any(v => v < 0) || values.Sum() != n)
                    throw new ArgumentException($"{Name}: split lengths ({string.Join(", ", values)}) must be non-negative and sum to {n}, the size of axis {a}.");
                lengths.AddRange(values.Select(v => (int)v));
            }
        }
        var items = new List<Tensor>();
        int start = 0;
        foreach (int len in lengths)
        {
            var piece = x.Slice(a, start, start + len);
            items.Add((inputs.Length < 2 && !keepDims ? piece.Squeeze(a) : piece).Clone());
            start += len;
        }
        return new TensorSequence(x.DType, items);
    }
}

/// <summary>Concatenates a sequence's tensors along an axis, or stacks them along a new one (new_axis).</summary>
public sealed class ConcatFromSequenceOp(int axis, bool newAxis) : SequenceOpBase
{
    public override string Name => "ConcatFromSequence";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        var s = ExpectSequence(inputs[0], "input 0");
        if (s.ElementRankUnknown) throw new NotSupportedException($"{Name}: the elements' rank is unknown when the graph is built ({s}).");
        int rank = s.Rank + (newAxis ? 1 : 0);
        int a = ShapeMath.NormalizeAxis(axis, rank, Name);
        var shape = s.Shape.ToList();
        if (newAxis) shape.Insert(a, -1); else shape[a] = -1;
        return new TensorType(s.DType, [.. shape]);
    }

    public override object Evaluate(ReadOnlySpan<object?> inputs)
    {
        var s = AsSequence(inputs[0], Name, "input 0");
        if (s.Count == 0) throw new ArgumentException($"{Name}: the sequence is empty.");
        int a = ShapeMath.NormalizeAxis(axis, s[0].Rank + (newAxis ? 1 : 0), Name);
        var parts = s.Select(t => newAxis ? t.Unsqueeze(a) : t).ToArray();
        // The registry's Concat does the shape checks and the copy.
        var concat = new ConcatOp(a);
        var type = concat.InferType([.. parts.Select(p => new TensorType(p.DType, p.ShapeArray()))]);
        var output = Tensor.Empty(type.DType, type.Shape);
        concat.Forward(parts, output);
        return output;
    }
}

/// <summary>Optional(x) wraps a tensor or sequence; with no input it is an empty optional of the declared element type.</summary>
public sealed class OptionalOp(TensorType element) : SequenceOpBase
{
    public override string Name => "Optional";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        var e = inputs.Length > 0 ? inputs[0] : element;
        return e.Kind switch
        {
            ValueKind.Tensor => e with { Kind = ValueKind.Optional },
            ValueKind.Sequence => e with { Kind = ValueKind.OptionalSequence },
            _ => throw new ArgumentException($"{Name}: an optional holds a tensor or a sequence, not a {e}."),
        };
    }

    public override object Evaluate(ReadOnlySpan<object?> inputs) => inputs.Length == 0 || inputs[0] is null
        ? OptionalValue.Empty(element.DType, element.Kind == ValueKind.Sequence)
        : inputs[0] switch
        {
            Tensor t => new OptionalValue(t.Clone()),
            TensorSequence s => new OptionalValue(s),
            var v => throw new ArgumentException($"{Name}: cannot hold {Describe(v)}."),
        };
}

/// <summary>True when the optional holds a value; a plain tensor or sequence (opset 18) counts as present, no input as absent.</summary>
public sealed class OptionalHasElementOp : SequenceOpBase
{
    public override string Name => "OptionalHasElement";
    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) => new(DType.Bool, []);
    public override object Evaluate(ReadOnlySpan<object?> inputs) =>
        Tensor.Scalar(inputs.Length > 0 && inputs[0] is not null && inputs[0] is not OptionalValue { HasElement: false });
}

/// <summary>The optional's content (an error when empty); a plain tensor or sequence passes through (opset 18).</summary>
public sealed class OptionalGetElementOp : SequenceOpBase
{
    public override string Name => "OptionalGetElement";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        var t = inputs[0];
        if (t.Kind == ValueKind.Optional && t.ElementRankUnknown)
            throw new NotSupportedException($"{Name}: the element's rank is unknown when the graph is built ({t}).");
        return t.Kind is ValueKind.Optional or ValueKind.OptionalSequence ? t.Element : t;
    }

    public override object Evaluate(ReadOnlySpan<object?> inputs) => inputs[0] switch
    {
        OptionalValue { HasElement: false } => throw new InvalidOperationException($"{Name}: the optional is empty."),
        OptionalValue o => o.Element!,
        Tensor t => t.Clone(),
        var v => v!,
    };
}

/// <summary>Identity on a sequence or optional: containers are immutable, so the value itself passes on.</summary>
public sealed class ValueIdentityOp : SequenceOpBase
{
    public override string Name => "Identity";
    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) => inputs[0];
    public override object Evaluate(ReadOnlySpan<object?> inputs) => inputs[0] is Tensor t ? t.Clone() : inputs[0]!;
}
