namespace Tessera.Graphs;

/// <summary>
/// A computation graph, as in Gorgonia: declare inputs, combine them with <see cref="Ops"/>, bind values with
/// <see cref="Let(Node, Tensor)"/>, run with a <see cref="TapeMachine"/>, read <see cref="Node.Value"/>.
/// </summary>
/// <example><code>
/// var g = new Graph();
/// var x = g.Scalar(DType.Float64, "x");
/// var y = g.Scalar(DType.Float64, "y");
/// var z = x + y;
/// Graph.Let(x, 2.0); Graph.Let(y, 3.0);
/// using var m = new TapeMachine(g);
/// m.RunAll();
/// Console.WriteLine(z.Value!.ToScalar()); // 5
/// </code></example>
public sealed class Graph
{
    private readonly List<Node> _nodes = [];

    public IReadOnlyList<Node> Nodes => _nodes;

    /// <summary>An input of the given dtype and shape (-1 for a dimension fixed only when a value is bound).</summary>
    public Node Input(DType dtype, int[] shape, string? name = null)
    {
        foreach (var d in shape)
            if (d < -1) throw new ArgumentException($"Input {name}: shape {ShapeMath.Format(shape)} has a negative dimension.");
        return Add(NodeKind.Input, null, [], new TensorType(dtype, (int[])shape.Clone()), name);
    }

    /// <summary>An input of any value kind (a tensor, or a sequence or optional for <see cref="ValueOperation"/>s).</summary>
    public Node Input(TensorType type, string? name = null)
    {
        if (type.IsTensor) return Input(type.DType, type.Shape, name);
        return Add(NodeKind.Input, null, [], type with { Shape = (int[])type.Shape.Clone() }, name);
    }

    public Node Scalar(DType dtype, string? name = null) => Input(dtype, [], name);
    public Node Vector(DType dtype, int length, string? name = null) => Input(dtype, [length], name);
    public Node Matrix(DType dtype, int rows, int cols, string? name = null) => Input(dtype, [rows, cols], name);

    /// <summary>A constant node holding <paramref name="value"/> (not copied).</summary>
    public Node Constant(Tensor value, string? name = null)
    {
        var node = Add(NodeKind.Constant, null, [], new TensorType(value.DType, value.ShapeArray()), name);
        node.Value = value;
        return node;
    }

    public Node Constant(double value, DType dtype, string? name = null) => Constant(Tensor.Scalar(value, dtype), name);

    /// <summary>Adds a node applying <paramref name="op"/> to <paramref name="inputs"/>; the type rule runs now.</summary>
    public Node Apply(Operation op, params Node[] inputs)
    {
        var types = new TensorType[inputs.Length];
        var values = new Tensor?[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            if (inputs[i].Graph != this)
                throw new ArgumentException($"{op.Name}: input {inputs[i].Name} belongs to another graph.");
            types[i] = inputs[i].Type;
            if (!types[i].IsTensor && op is not ValueOperation)
                throw new ArgumentException($"{op.Name}: input {inputs[i].Name} is a {types[i]}, not a tensor.");
            if (inputs[i].Kind == NodeKind.Constant) values[i] = inputs[i].Value;
        }
        return Add(NodeKind.Operation, op, inputs, op.InferType(types, values), null);
    }

    private Node Add(NodeKind kind, Operation? op, Node[] inputs, TensorType type, string? name)
    {
        var node = new Node(this, _nodes.Count, kind, op, inputs, type, name ?? $"{op?.Name.ToLowerInvariant() ?? kind.ToString().ToLowerInvariant()}{_nodes.Count}");
        _nodes.Add(node);
        return node;
    }

    /// <summary>Binds a value to an input node. Fails here, not in a kernel, if dtype or shape disagree with the declaration.</summary>
    public static void Let(Node node, Tensor value)
    {
        if (node.Kind != NodeKind.Input)
            throw new InvalidOperationException($"Let: {node.Name} is {(node.Kind == NodeKind.Constant ? "a constant" : "computed by " + node.Operation!.Name)}, not an input.");
        if (!node.Type.IsTensor)
            throw new ArgumentException($"Let: input {node.Name} is a {node.Type}; bind it with LetValue.");
        if (value.DType != node.DType)
            throw new DTypeMismatchException("Let", $"input {node.Name} is declared {node.DType.Name()}, the value is {value.DType.Name()}");
        var declared = node.Shape;
        bool ok = declared.Length == value.Rank;
        for (int i = 0; ok && i < declared.Length; i++) ok = declared[i] == -1 || declared[i] == value.Shape[i];
        if (!ok)
            throw new ShapeMismatchException("Let", $"input {node.Name} is declared with shape {ShapeMath.Format(declared)}, the value has shape {value.ShapeString}");
        node.Value = value;
        node.Version++;
    }

    /// <summary>
    /// Binds a value of any kind: a tensor, a <see cref="TensorSequence"/> or an <see cref="OptionalValue"/>, checked
    /// against the input's declared kind and element dtype.
    /// </summary>
    public static void LetValue(Node node, object value)
    {
        if (value is Tensor t) { Let(node, t); return; }
        if (node.Kind != NodeKind.Input) throw new InvalidOperationException($"LetValue: {node.Name} is not an input.");
        ValueKinds.Check(node.Type, value, $"input {node.Name}");
        node.Boxed = value;
        node.Version++;
    }

    /// <summary>Binds a number to a scalar input, converted to the input's dtype.</summary>
    public static void Let(Node node, double value) => Let(node, Tensor.Scalar(value, node.DType));

    public override string ToString() => string.Join(Environment.NewLine, _nodes);
}
