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
        var t = ValueType(v);
        return (t.DType, t.Shape);
    }

    /// <summary>
    /// The type of a declared graph input: a tensor, a sequence of tensors, or an optional tensor or sequence (the
    /// element's shape may be left out inside a sequence or optional; a tensor input needs one).
    /// </summary>
    public static TensorType ValueType(ValueInfoProto v) => ValueType(v.Type, $"input '{v.Name}'");

    internal static TensorType ValueType(TypeProto? type, string what)
    {
        switch (type?.ValueCase)
        {
            case TypeProto.ValueOneofCase.TensorType:
                var t = Element(type.TensorType, what);
                if (t.ElementRankUnknown) throw new OnnxUnsupportedException($"{what} has no shape (unknown rank is not supported).");
                return t;
            case TypeProto.ValueOneofCase.SequenceType when type.SequenceType.ElemType?.TensorType is { } st:
                return Element(st, what) with { Kind = ValueKind.Sequence };
            case TypeProto.ValueOneofCase.OptionalType when type.OptionalType.ElemType?.TensorType is { } ot:
                return Element(ot, what) with { Kind = ValueKind.Optional };
            case TypeProto.ValueOneofCase.OptionalType when type.OptionalType.ElemType?.SequenceType?.ElemType?.TensorType is { } ost:
                return Element(ost, what) with { Kind = ValueKind.OptionalSequence };
            default:
                throw new OnnxUnsupportedException($"{what} is of type {type?.ValueCase.ToString() ?? "(none)"}: tensors, sequences of tensors and optional tensors or sequences are supported, not maps, sparse tensors or nested sequences.");
        }
    }

    private static TensorType Element(TypeProto.Types.Tensor tt, string what)
    {
        var dtype = OnnxTensors.ToDType(tt.ElemType, what);
        if (tt.Shape is null) return TensorType.Of(ValueKind.Tensor, dtype, [], rankUnknown: true);
        var shape = tt.Shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue >= 0 && d.DimValue <= int.MaxValue ? (int)d.DimValue : -1).ToArray();
        return new TensorType(dtype, shape);
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
        var scope = new OnnxScope(null, opset, baseDirectory);
        var g = scope.Graph;
        foreach (var (name, t) in initializers) scope.Values[name] = g.Constant(t, name);

        var inputs = new List<Node>();
        foreach (var v in RealInputs(model, initializers))
        {
            var type = ValueType(v);
            if (inputShapes is not null && type.Kind == ValueKind.Tensor && inputShapes.TryGetValue(v.Name, out var concrete))
                type = new TensorType(type.DType, concrete);
            var node = g.Input(type, v.Name);
            scope.Values[v.Name] = node;
            inputs.Add(node);
        }
        scope.AddNodes(model.Graph.Node);

        var outs = new Node[model.Graph.Output.Count];
        for (int i = 0; i < outs.Length; i++)
        {
            var name = model.Graph.Output[i].Name;
            outs[i] = scope.Values.TryGetValue(name, out var n) ? n : throw new OnnxFormatException($"graph output '{name}' is produced by no node.");
        }
        return new OnnxGraph(g, [.. inputs], outs);
    }
}
