using Tessera.Graphs;
using Tessera.Onnx.Proto;

namespace Tessera.Onnx;

/// <summary>
/// One ONNX graph being imported: the model's main graph or a control-flow body. Names resolve in this graph first,
/// then in the enclosing one: a body that reads an enclosing value gets an input node for it (a capture, recorded in
/// <see cref="Captures"/> so the control-flow op can pass the value in at run time); an enclosing constant is shared
/// as a constant. An inline scope (a constant-condition If branch) builds straight into the enclosing graph.
/// </summary>
internal sealed class OnnxScope
{
    /// <summary>Folding stops above this many elements, so a constant expression cannot blow up memory at load.</summary>
    private const long FoldLimit = 1L << 24;

    private readonly OnnxScope? _parent;
    private readonly bool _inline;
    private readonly List<bool> _constant;

    public OnnxScope(OnnxScope? parent, int opset, string? baseDirectory, bool inline = false)
    {
        _parent = parent; _inline = inline; Opset = opset; BaseDirectory = baseDirectory;
        if (inline && parent is null) throw new ArgumentException("An inline scope needs an enclosing one.");
        Graph = inline ? parent!.Graph : new Graph();
        _constant = inline ? parent!._constant : [];
        ShapeValues = inline ? parent!.ShapeValues : new ShapeValues();
    }

    public Graph Graph { get; }
    public int Opset { get; }
    public string? BaseDirectory { get; }
    public Dictionary<string, Node> Values { get; } = [];
    /// <summary>What the static shapes say of this graph's shape vectors (shared with an inline scope's parent).</summary>
    public ShapeValues ShapeValues { get; }
    /// <summary>Enclosing values this (non-inline) scope reads, in first-use order, with their input nodes here.</summary>
    public List<(string Name, Node Inner)> Captures { get; } = [];
    /// <summary>Enclosing constants this (non-inline) scope reads: shared as constants, not passed in at run time.</summary>
    public Dictionary<string, Tensor> ConstantCaptures { get; } = [];

    /// <summary>The node a name denotes here, capturing it from the enclosing scopes when needed; null when unknown.</summary>
    public Node? Resolve(string name)
    {
        if (Values.TryGetValue(name, out var node)) return node;
        if (_parent?.Resolve(name) is not { } outer) return null;
        if (_inline) return outer;
        if (outer.Kind == NodeKind.Constant)
        {
            node = Graph.Constant(outer.Value!, name);
            ConstantCaptures[name] = outer.Value!;
        }
        else
        {
            node = Graph.Input(outer.Type, name);
            Captures.Add((name, node));
        }
        Values[name] = node;
        return node;
    }

    /// <summary>A graph's own initializers (a body's; the main graph's are parsed once per model).</summary>
    public void AddInitializers(GraphProto g)
    {
        foreach (var t in g.Initializer)
            Values[t.Name] = Graph.Constant(OnnxTensors.ToTensor(t, BaseDirectory, $"initializer '{t.Name}'"), t.Name);
        if (g.SparseInitializer.Count > 0) throw new OnnxUnsupportedException("sparse initializers are not supported.");
    }

    /// <summary>Builds the nodes in order; each ONNX output name then denotes its (possibly folded) node.</summary>
    public void AddNodes(IEnumerable<NodeProto> nodes)
    {
        foreach (var np in nodes)
        {
            var key = OnnxOperators.Key(np.Domain, np.OpType);
            if (np.Domain is not ("" or "ai.onnx") && !OnnxOperators.Builders.ContainsKey(key))
                throw new OnnxUnsupportedException($"ONNX operator {np.OpType} (domain '{np.Domain}') in node '{np.Name}' is not supported: only the default domain (and the optimizers of {OnnxOperators.TrainingDomain}) are.") { OpType = np.OpType };
            var nodeInputs = new Node?[np.Input.Count];
            for (int i = 0; i < nodeInputs.Length; i++)
            {
                var n = np.Input[i];
                if (n.Length == 0) continue;
                nodeInputs[i] = Resolve(n) ?? throw new OnnxFormatException($"node '{np.Name}' ({np.OpType}) reads '{n}', which no earlier node, input or initializer produces.");
            }
            if (!OnnxOperators.Builders.TryGetValue(key, out var builder))
                throw new OnnxUnsupportedException($"ONNX operator {np.OpType} (domain '{np.Domain}', opset {Opset}) in node '{np.Name}' is not supported.") { OpType = np.OpType };
            var ctx = new OnnxNodeContext(np, nodeInputs, Opset, Graph, BaseDirectory) { Lookup = Resolve, Scope = this, ShapeValues = ShapeValues };
            Node[] outputs;
            try { outputs = BuildWithWidening(builder, ctx, np, nodeInputs); }
            catch (Exception e) when (e is not (OnnxFormatException or OnnxUnsupportedException or OutOfMemoryException))
            {
                // Malformed attributes or shapes surface as the op's own validation errors; report them against the node.
                throw new OnnxFormatException($"node '{np.Name}' ({np.OpType}, opset {Opset}): {e.Message}", e);
            }
            for (int i = 0; i < np.Output.Count; i++)
            {
                if (np.Output[i].Length == 0) continue;
                if (i >= outputs.Length) throw ctx.Unsupported($"output {i} ('{np.Output[i]}')");
                Values[np.Output[i]] = KnownShape(Fold(outputs[i]));
            }
        }
    }

    /// <summary>
    /// Builds a node; if the registry ops reject a storage-only dtype (float16, or uint8 for float-only ops), builds it
    /// again on float32 copies of those inputs and casts float results back, which is exact for these dtypes.
    /// </summary>
    private Node[] BuildWithWidening(OnnxOpBuilder builder, OnnxNodeContext ctx, NodeProto np, Node?[] inputs)
    {
        try { return builder(ctx); }
        catch (DTypeMismatchException) when (inputs.Any(i => i is { Type.IsTensor: true, DType: DType.Float16 or DType.UInt8 }))
        {
            var narrow = inputs.First(i => i is { Type.IsTensor: true, DType: DType.Float16 or DType.UInt8 })!.DType;
            var widened = inputs.Select(i => i is { Type.IsTensor: true } && i.DType == narrow ? Graphs.Ops.Cast(i, DType.Float32) : i).ToArray();
            var outputs = builder(new OnnxNodeContext(np, widened, Opset, Graph, BaseDirectory) { Lookup = Resolve, Scope = this });
            return [.. outputs.Select(o => o.Type.IsTensor && o.DType == DType.Float32 ? Graphs.Ops.Cast(o, narrow) : o)];
        }
    }

    /// <summary>
    /// Replaces an op node whose inputs are all constants by a constant holding its value. Value ops (control flow,
    /// sequences) are never folded: a loop's trip count is not bounded at load.
    /// </summary>
    private Node Fold(Node node)
    {
        var nodes = Graph.Nodes;
        for (int id = _constant.Count; id < nodes.Count; id++)
        {
            var n = nodes[id];
            _constant.Add(n.Kind == NodeKind.Constant
                || n.Kind == NodeKind.Operation && n.Operation is not ValueOperation && n.Inputs.All(i => _constant[i.Id]));
        }
        if (node.Kind != NodeKind.Operation || !_constant[node.Id]) return node;
        if (node.Type.IsFullyKnown && ShapeMathCount(node.Shape) > FoldLimit) return node;
        using var machine = new TapeMachine(Graph, node);
        machine.RunAll();
        var value = node.Value!.Clone();
        var c = Graph.Constant(value, node.Name);
        _constant.Add(true);
        return c;
    }

    /// <summary>
    /// Replaces a shape vector whose every element the static shapes determine (Gather(Shape(x), 1) with x's channels
    /// known, the batch not) by a constant, so what is computed from it folds too (see <see cref="Onnx.ShapeValues"/>).
    /// </summary>
    private Node KnownShape(Node node)
    {
        if (node.Kind != NodeKind.Operation || !node.Type.IsTensor || !node.Type.IsFullyKnown || ShapeValues.Known(node) is not { } v) return node;
        if (v.Length != ShapeMathCount(node.Shape)) return node;
        var t = node.DType == DType.Int64 ? Tensor.FromArray(v, node.Shape)
            : Tensor.FromArray([.. v.Select(e => checked((int)e))], node.Shape);
        return Graph.Constant(t, node.Name);
    }

    private static long ShapeMathCount(int[] shape) { long n = 1; foreach (var d in shape) n *= Math.Max(d, 0); return n; }
}
