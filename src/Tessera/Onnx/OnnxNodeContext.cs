using Tessera.Graphs;
using Tessera.Onnx.Proto;

namespace Tessera.Onnx;

/// <summary>What an operator builder sees of one ONNX node: its inputs as graph nodes, its attributes, the opset.</summary>
public sealed class OnnxNodeContext
{
    private readonly Node?[] _inputs;
    private readonly Dictionary<string, AttributeProto> _attributes = [];

    internal OnnxNodeContext(NodeProto proto, Node?[] inputs, int opset, Graph graph, string? baseDirectory)
    {
        Proto = proto; _inputs = inputs; Opset = opset; Graph = graph; BaseDirectory = baseDirectory;
        foreach (var a in proto.Attribute) _attributes[a.Name] = a;
    }

    public NodeProto Proto { get; }
    public string OpType => Proto.OpType;
    /// <summary>The model's opset version for the node's domain.</summary>
    public int Opset { get; }
    public Graph Graph { get; }
    /// <summary>Any value of the enclosing graph by name (null when unknown); set by the importer, for Gradient's y.</summary>
    internal Func<string, Node?>? Lookup { get; init; }
    /// <summary>The importer's partial values of shape vectors (null in subgraphs built without one).</summary>
    internal ShapeValues? ShapeValues { get; init; }
    internal string? BaseDirectory { get; }
    /// <summary>The graph being imported (names, captures), for builders of ops with subgraphs.</summary>
    internal OnnxScope? Scope { get; init; }
    public int InputCount => _inputs.Length;
    public int OutputCount => Proto.Output.Count;
    /// <summary>True when output <paramref name="i"/> exists and is consumed by name.</summary>
    public bool WantsOutput(int i) => i < Proto.Output.Count && Proto.Output[i].Length > 0;

    /// <summary>Input i, or null when it is absent (past the end or named "").</summary>
    public Node? Input(int i) => i < _inputs.Length ? _inputs[i] : null;

    public Node Required(int i) => Input(i) ?? throw Error($"input {i} is required");

    /// <summary>The value of input i when it is a constant at build time, else null.</summary>
    public Tensor? ConstantInput(int i) => Input(i) is { Kind: NodeKind.Constant } n ? n.Value : null;

    public bool Has(string name) => _attributes.ContainsKey(name);

    public long Int(string name, long fallback) => _attributes.TryGetValue(name, out var a) ? a.I : fallback;
    public float Float(string name, float fallback) => _attributes.TryGetValue(name, out var a) ? a.F : fallback;
    public string String(string name, string fallback) => _attributes.TryGetValue(name, out var a) ? a.S.ToStringUtf8() : fallback;
    public long[]? Ints(string name) => _attributes.TryGetValue(name, out var a) ? [.. a.Ints] : null;
    public float[]? Floats(string name) => _attributes.TryGetValue(name, out var a) ? [.. a.Floats] : null;
    public int[]? Int32s(string name) => Ints(name)?.Select(v => checked((int)v)).ToArray();

    public Tensor? TensorAttr(string name) =>
        _attributes.TryGetValue(name, out var a) && a.T is not null ? OnnxTensors.ToTensor(a.T, BaseDirectory, $"attribute '{name}' of node '{Proto.Name}'") : null;

    public AttributeProto? Attribute(string name) => _attributes.GetValueOrDefault(name);

    public OnnxUnsupportedException Unsupported(string what) =>
        new($"ONNX operator {OpType} (domain '{Proto.Domain}', opset {Opset}) in node '{Proto.Name}': {what} is not supported.") { OpType = OpType };

    public ArgumentException Error(string what) => new($"ONNX operator {OpType} in node '{Proto.Name}': {what}.");

    /// <summary>
    /// Applies an op whose trailing inputs are tensor-valued attributes: bound now when they are constants, else at
    /// run time through a <see cref="BoundOp"/>. <paramref name="unbound"/> gives the type while the values are unknown.
    /// </summary>
    public Node Bind(string name, Node[] data, Node[] parameters, Func<Tensor[], Operation> bind,
        Func<TensorType[], TensorType[], TensorType> unbound, bool isView = false)
    {
        if (parameters.All(p => p.Kind == NodeKind.Constant))
            return Graph.Apply(bind([.. parameters.Select(p => p.Value!)]), data);
        return Graph.Apply(new BoundOp(name, data.Length, bind, unbound, isView), [.. data, .. parameters]);
    }

    /// <summary>Integer values of a tensor (shape vectors, axes, pads ...).</summary>
    public static long[] Longs(Tensor t)
    {
        var r = new long[t.Length];
        if (t.DType == DType.Int64) { var c = t.Contiguous().AsSpan<long>(); c.CopyTo(r); return r; }
        for (int i = 0; i < r.Length; i++) r[i] = (long)t.GetDouble(i);
        return r;
    }

    public static int[] Int32Values(Tensor t) => [.. Longs(t).Select(v => (int)Math.Clamp(v, int.MinValue, int.MaxValue))];
}
