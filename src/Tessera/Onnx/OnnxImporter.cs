using Tessera.Graphs;
using Tessera.Onnx.Proto;

namespace Tessera.Onnx;

/// <summary>One imported copy of an ONNX graph: a Tessera graph with its input and output nodes in model order.</summary>
public sealed class OnnxGraph(Graph graph, Node[] inputs, Node[] outputs)
{
    public Graph Graph { get; } = graph;
    public Node[] Inputs { get; } = inputs;
    public Node[] Outputs { get; } = outputs;
}

/// <summary>
/// Builds a Tessera graph from an ONNX graph: each node goes through <see cref="OnnxOperators"/> to registry ops;
/// nodes whose inputs are all constants are evaluated once here (constant folding) so shape computations and
/// initializer-only subgraphs cost nothing per run.
/// </summary>
public static class OnnxImporter
{
    /// <summary>
    /// The default-domain opset versions this importer knows. Every operator change of opsets 19–21 is either built
    /// with that version's semantics (keyed on <see cref="OnnxNodeContext.Opset"/>) or refused by name; the types those
    /// opsets add (float8, int4/uint4, strings) are refused where a tensor or a dtype attribute names them.
    /// </summary>
    public const int MinOpset = 1, MaxOpset = 21;

    /// <summary>Folding stops above this many elements, so a constant expression cannot blow up memory at load.</summary>
    private const long FoldLimit = 1L << 24;

    /// <summary>Initializers of a model parsed once; shared read-only by every imported copy.</summary>
    public static Dictionary<string, Tensor> ReadInitializers(ModelProto model, string? baseDirectory)
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var t in model.Graph.Initializer)
            result[t.Name] = OnnxTensors.ToTensor(t, baseDirectory, $"initializer '{t.Name}'");
        if (model.Graph.SparseInitializer.Count > 0)
            throw new OnnxUnsupportedException("sparse initializers are not supported.");
        return result;
    }

    public static int DefaultOpset(ModelProto model)
    {
        foreach (var o in model.OpsetImport)
            if (o.Domain is "" or "ai.onnx") return (int)Math.Clamp(o.Version, 0, int.MaxValue);
        // IR version 3 and later must declare it; older files implied opset 1.
        return model.OpsetImport.Count == 0 ? 1 : 0;
    }

    /// <summary>The graph's real inputs: declared inputs that no initializer provides.</summary>
    public static List<ValueInfoProto> RealInputs(ModelProto model, IReadOnlyDictionary<string, Tensor> initializers) =>
        [.. model.Graph.Input.Where(i => !initializers.ContainsKey(i.Name))];

    public static (DType DType, int[] Shape) InputType(ValueInfoProto v)
    {
        if (v.Type?.TensorType is not { } tt)
            throw new OnnxUnsupportedException($"input '{v.Name}' is not a tensor ({v.Type?.ValueCase.ToString() ?? "no type"}); sequences, maps and optionals are not supported.");
        var dtype = OnnxTensors.ToDType(tt.ElemType, $"input '{v.Name}'");
        if (tt.Shape is null) throw new OnnxUnsupportedException($"input '{v.Name}' has no shape (unknown rank is not supported).");
        var shape = tt.Shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue >= 0 && d.DimValue <= int.MaxValue ? (int)d.DimValue : -1).ToArray();
        return (dtype, shape);
    }

    /// <summary>
    /// Builds the graph of <paramref name="model"/>. <paramref name="inputShapes"/> (by input name) replaces declared
    /// shapes with concrete ones: a graph specialized to them, where shape computations fold to constants.
    /// </summary>
    public static OnnxGraph Import(ModelProto model, IReadOnlyDictionary<string, Tensor> initializers, string? baseDirectory,
        IReadOnlyDictionary<string, int[]>? inputShapes = null)
    {
        int opset = DefaultOpset(model);
        // A model may import no default-domain opset at all (only other domains); its nodes are then reported by domain.
        if ((opset < MinOpset && model.Graph.Node.Any(n => n.Domain is "" or "ai.onnx")) || opset > MaxOpset)
            throw new OnnxUnsupportedException($"default-domain opset {opset} is not supported (opsets {MinOpset}–{MaxOpset}).");
        var g = new Graph();
        var values = new Dictionary<string, Node>();
        foreach (var (name, t) in initializers) values[name] = g.Constant(t, name);

        var inputs = new List<Node>();
        foreach (var v in RealInputs(model, initializers))
        {
            var (dtype, shape) = InputType(v);
            if (inputShapes is not null && inputShapes.TryGetValue(v.Name, out var concrete)) shape = concrete;
            var node = g.Input(dtype, shape, v.Name);
            values[v.Name] = node;
            inputs.Add(node);
        }

        var constant = new List<bool>();
        var shapeValues = new ShapeValues();
        foreach (var np in model.Graph.Node)
        {
            var key = OnnxOperators.Key(np.Domain, np.OpType);
            if (np.Domain is not ("" or "ai.onnx") && !OnnxOperators.Builders.ContainsKey(key))
                throw new OnnxUnsupportedException($"ONNX operator {np.OpType} (domain '{np.Domain}') in node '{np.Name}' is not supported: only the default domain (and the optimizers of {OnnxOperators.TrainingDomain}) are.") { OpType = np.OpType };
            var nodeInputs = new Node?[np.Input.Count];
            for (int i = 0; i < nodeInputs.Length; i++)
            {
                var n = np.Input[i];
                if (n.Length == 0) continue;
                nodeInputs[i] = values.TryGetValue(n, out var node) ? node
                    : throw new OnnxFormatException($"node '{np.Name}' ({np.OpType}) reads '{n}', which no earlier node, input or initializer produces.");
            }
            if (!OnnxOperators.Builders.TryGetValue(key, out var builder))
                throw new OnnxUnsupportedException($"ONNX operator {np.OpType} (domain '{np.Domain}', opset {opset}) in node '{np.Name}' is not supported.") { OpType = np.OpType };
            var ctx = new OnnxNodeContext(np, nodeInputs, opset, g, baseDirectory) { Lookup = values.GetValueOrDefault, ShapeValues = shapeValues };
            Node[] outputs;
            try { outputs = BuildWithWidening(builder, ctx, np, nodeInputs, opset, g, baseDirectory); }
            catch (Exception e) when (e is not (OnnxFormatException or OnnxUnsupportedException or OutOfMemoryException))
            {
                // Malformed attributes or shapes surface as the op's own validation errors; report them against the node.
                throw new OnnxFormatException($"node '{np.Name}' ({np.OpType}, opset {opset}): {e.Message}", e);
            }
            for (int i = 0; i < np.Output.Count; i++)
            {
                if (np.Output[i].Length == 0) continue;
                if (i >= outputs.Length)
                    throw ctx.Unsupported($"output {i} ('{np.Output[i]}')");
                values[np.Output[i]] = KnownShape(g, Fold(g, outputs[i], constant), shapeValues);
            }
        }

        var outs = new Node[model.Graph.Output.Count];
        for (int i = 0; i < outs.Length; i++)
        {
            var name = model.Graph.Output[i].Name;
            outs[i] = values.TryGetValue(name, out var n) ? n : throw new OnnxFormatException($"graph output '{name}' is produced by no node.");
        }
        return new OnnxGraph(g, [.. inputs], outs);
    }

    /// <summary>
    /// Builds a node; if the registry ops reject a storage-only dtype (float16, or uint8 for float-only ops), builds it
    /// again on float32 copies of those inputs and casts float results back, which is exact for these dtypes.
    /// </summary>
    private static Node[] BuildWithWidening(OnnxOpBuilder builder, OnnxNodeContext ctx, NodeProto np, Node?[] inputs, int opset, Graph g, string? baseDirectory)
    {
        try { return builder(ctx); }
        catch (DTypeMismatchException) when (inputs.Any(i => i?.DType is DType.Float16 or DType.UInt8))
        {
            var narrow = inputs.First(i => i?.DType is DType.Float16 or DType.UInt8)!.DType;
            var widened = inputs.Select(i => i is not null && i.DType == narrow ? Graphs.Ops.Cast(i, DType.Float32) : i).ToArray();
            var outputs = builder(new OnnxNodeContext(np, widened, opset, g, baseDirectory));
            return [.. outputs.Select(o => o.DType == DType.Float32 ? Graphs.Ops.Cast(o, narrow) : o)];
        }
    }

    /// <summary>
    /// Replaces a shape vector whose every element the static shapes determine (Gather(Shape(x), 1) with x's channels
    /// known, the batch not) by a constant, so what is computed from it folds too (see <see cref="ShapeValues"/>).
    /// </summary>
    private static Node KnownShape(Graph g, Node node, ShapeValues shapeValues)
    {
        if (node.Kind != NodeKind.Operation || !node.Type.IsFullyKnown || shapeValues.Known(node) is not { } v) return node;
        if (v.Length != ShapeMathCount(node.Shape)) return node;
        var t = node.DType == DType.Int64 ? Tensor.FromArray(v, node.Shape)
            : Tensor.FromArray([.. v.Select(e => checked((int)e))], node.Shape);
        return g.Constant(t, node.Name);
    }

    /// <summary>Replaces an op node whose inputs are all constants by a constant holding its value.</summary>
    private static Node Fold(Graph g, Node node, List<bool> constant)
    {
        var nodes = g.Nodes;
        for (int id = constant.Count; id < nodes.Count; id++)
        {
            var n = nodes[id];
            constant.Add(n.Kind == NodeKind.Constant || n.Kind == NodeKind.Operation && n.Inputs.All(i => constant[i.Id]));
        }
        if (node.Kind != NodeKind.Operation || !constant[node.Id]) return node;
        if (node.Type.IsFullyKnown && ShapeMathCount(node.Shape) > FoldLimit) return node;
        using var machine = new TapeMachine(g, node);
        machine.RunAll();
        var value = node.Value!.Clone();
        var c = g.Constant(value, node.Name);
        constant.Add(true);
        return c;
    }

    private static long ShapeMathCount(int[] shape) { long n = 1; foreach (var d in shape) n *= Math.Max(d, 0); return n; }
}
