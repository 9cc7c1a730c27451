namespace Tessera.Graphs;

/// <summary>
/// An op whose attributes arrive as tensor inputs (ONNX Reshape's shape, Slice's starts, ReduceSum's axes ...).
/// The first <see cref="DataInputs"/> inputs are data; the rest are read as values and bound into the static op that
/// does the work (<c>bind</c> builds it). Binding happens at build time when those inputs are constants, else at run
/// time, with the bound op cached while the values stay the same.
/// </summary>
public sealed class BoundOp(string name, int dataInputs, Func<Tensor[], Operation> bind, Func<TensorType[], TensorType[], TensorType> unbound, bool isView = false) : Operation
{
    private Operation? _bound;
    private double[][]? _boundValues;

    public override string Name { get; } = name;
    public int DataInputs { get; } = dataInputs;
    public override bool IsView => isView;
    public override bool ValueDependentShape => true;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) =>
        unbound(inputs[..DataInputs].ToArray(), inputs[DataInputs..].ToArray());

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs, ReadOnlySpan<Tensor?> values)
    {
        for (int i = DataInputs; i < values.Length; i++)
            if (values[i] is null) return InferType(inputs);
        return Bind(values).InferType(inputs[..DataInputs]);
    }

    private Operation Bind(ReadOnlySpan<Tensor?> values)
    {
        int n = values.Length - DataInputs;
        var current = new double[n][];
        for (int i = 0; i < n; i++) current[i] = values[DataInputs + i]!.ToDoubleArray();
        if (_bound is not null && _boundValues!.Length == n && current.Zip(_boundValues).All(p => p.First.AsSpan().SequenceEqual(p.Second)))
            return _bound;
        var args = new Tensor[n];
        for (int i = 0; i < n; i++) args[i] = values[DataInputs + i]!;
        _bound = bind(args);
        _boundValues = current;
        return _bound;
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) =>
        Bind(inputs).Forward(inputs[..DataInputs], output);

    public override Tensor ForwardView(ReadOnlySpan<Tensor> inputs) => Bind(inputs).ForwardView(inputs[..DataInputs]);

    public override Node?[] Gradient(Node output, Node gy) => throw new NotSupportedException($"{Name} with tensor-valued attributes has no gradient rule.");
}
