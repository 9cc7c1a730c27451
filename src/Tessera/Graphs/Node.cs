namespace Tessera.Graphs;

/// <summary>What a node is: a value bound with <see cref="Graph.Let(Node, Tensor)"/>, a constant, or an op's result.</summary>
public enum NodeKind { Input, Constant, Operation }

/// <summary>
/// A vertex of a <see cref="Graph"/>. Building a node never computes; a machine fills <see cref="Value"/>.
/// C# operators build nodes: <c>x * w + b</c>.
/// </summary>
public sealed class Node
{
    internal Node(Graph graph, int id, NodeKind kind, Operation? op, Node[] inputs, TensorType type, string name)
    {
        Graph = graph; Id = id; Kind = kind; Operation = op; Inputs = inputs; Type = type; Name = name;
    }

    public Graph Graph { get; }
    /// <summary>Position in the graph; nodes are numbered in creation order, which is a topological order.</summary>
    public int Id { get; }
    public NodeKind Kind { get; }
    public Operation? Operation { get; }
    public IReadOnlyList<Node> Inputs { get; }
    public TensorType Type { get; }
    public DType DType => Type.DType;
    /// <summary>Declared or inferred shape; -1 marks a dimension known only at run time.</summary>
    public int[] Shape => Type.Shape;
    public int Rank => Type.Shape.Length;
    public string Name { get; }

    /// <summary>The value from the last run (or the bound/constant value). Machines reuse its buffer between runs.</summary>
    public Tensor? Value { get; internal set; }

    /// <summary>
    /// The value from the last run when the node is no tensor (<see cref="TensorType.Kind"/>): a
    /// <see cref="TensorSequence"/>, <see cref="OptionalValue"/> or <see cref="OutputTuple"/>; null for tensors.
    /// </summary>
    public object? Boxed { get; internal set; }

    /// <summary>The value of the last run of whichever kind: <see cref="Value"/> or <see cref="Boxed"/>.</summary>
    public object? AnyValue => (object?)Value ?? Boxed;

    /// <summary>Bumped when <see cref="Value"/> is rebound by Let; machines compare it to notice new inputs.</summary>
    internal int Version { get; set; }

    public override string ToString() => Operation is null
        ? $"{Name} :: {Type}"
        : $"{Name} = {Operation.Name}({string.Join(", ", Inputs.Select(i => i.Name))}) :: {Type}";

    public static Node operator +(Node a, Node b) => Ops.Add(a, b);
    public static Node operator -(Node a, Node b) => Ops.Sub(a, b);
    public static Node operator *(Node a, Node b) => Ops.Mul(a, b);
    public static Node operator /(Node a, Node b) => Ops.Div(a, b);
    public static Node operator -(Node a) => Ops.Neg(a);
    public static Node operator +(Node a, double b) => Ops.Add(a, a.Graph.Constant(b, a.DType));
    public static Node operator +(double a, Node b) => Ops.Add(b.Graph.Constant(a, b.DType), b);
    public static Node operator -(Node a, double b) => Ops.Sub(a, a.Graph.Constant(b, a.DType));
    public static Node operator -(double a, Node b) => Ops.Sub(b.Graph.Constant(a, b.DType), b);
    public static Node operator *(Node a, double b) => Ops.Mul(a, a.Graph.Constant(b, a.DType));
    public static Node operator *(double a, Node b) => Ops.Mul(b.Graph.Constant(a, b.DType), b);
    public static Node operator /(Node a, double b) => Ops.Div(a, a.Graph.Constant(b, a.DType));
    public static Node operator /(double a, Node b) => Ops.Div(b.Graph.Constant(a, b.DType), b);
}
