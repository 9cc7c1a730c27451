using Tessera.Graphs;

namespace Tessera.Onnx;

/// <summary>
/// Sequence and optional operators (opsets 11–18) onto the container ops of <c>Graphs/Ops/SequenceOps.cs</c>, and
/// SequenceMap onto a body run per element (<see cref="SequenceMapOp"/>). Optional trailing inputs are passed only when
/// present, which is how those ops tell them apart.
/// </summary>
public static partial class OnnxOperators
{
    private static void AddSequences(Dictionary<string, OnnxOpBuilder> t)
    {
        t["SequenceEmpty"] = c => One(c.Graph.Apply(new SequenceEmptyOp(DTypeAttr(c, "dtype", DType.Float32))));
        t["SequenceConstruct"] = c => One(c.Graph.Apply(new SequenceConstructOp(), [.. Enumerable.Range(0, c.InputCount).Select(c.Required)]));
        t["SequenceInsert"] = c => One(c.Graph.Apply(new SequenceInsertOp(), Present(c, 2, 3)));
        t["SequenceAt"] = c => One(c.Graph.Apply(new SequenceAtOp(), Present(c, 2, 2)));
        t["SequenceErase"] = c => One(c.Graph.Apply(new SequenceEraseOp(), Present(c, 1, 2)));
        t["SequenceLength"] = c => One(c.Graph.Apply(new SequenceLengthOp(), c.Required(0)));
        t["SplitToSequence"] = c => One(c.Graph.Apply(new SplitToSequenceOp((int)c.Int("axis", 0), c.Int("keepdims", 1) != 0), Present(c, 1, 2)));
        t["ConcatFromSequence"] = c =>
        {
            if (!c.Has("axis")) throw c.Error("attribute 'axis' is required");
            return One(c.Graph.Apply(new ConcatFromSequenceOp((int)c.Int("axis", 0), c.Int("new_axis", 0) != 0), c.Required(0)));
        };
        t["Optional"] = c =>
        {
            if (c.Input(0) is { } x) return One(c.Graph.Apply(new OptionalOp(x.Type), x));
            var declared = c.Attribute("type")?.Tp ?? throw c.Error("an Optional without input needs the attribute 'type'");
            var element = OnnxImporter.ValueType(new Proto.TypeProto { OptionalType = new() { ElemType = declared } }, $"node '{c.Proto.Name}' attribute 'type'");
            return One(c.Graph.Apply(new OptionalOp(element.Element)));
        };
        t["OptionalHasElement"] = c => One(c.Graph.Apply(new OptionalHasElementOp(), Present(c, 0, 1)));
        t["OptionalGetElement"] = c => One(c.Graph.Apply(new OptionalGetElementOp(), c.Required(0)));
        t["SequenceMap"] = c =>
        {
            var inputs = Enumerable.Range(0, c.InputCount).Select(c.Required).ToArray();
            if (inputs[0].Type.Kind != ValueKind.Sequence) throw Malformed(c, $"input 0 must be a sequence, is {inputs[0].Type}");
            if (inputs.Any(i => i.Type.Kind is not (ValueKind.Sequence or ValueKind.Tensor))) throw Malformed(c, "inputs must be sequences or tensors");
            var body = OnnxSubgraph.Import(c, "body", _ => [.. inputs.Select(i => i.Type.Kind == ValueKind.Sequence ? i.Type.Element : i.Type)], -1);
            if (body.OutputTypes.Any(o => !o.IsTensor)) throw c.Unsupported("a body output that is not a tensor");
            if (c.OutputCount > body.OutputTypes.Length) throw Malformed(c, $"the node has {c.OutputCount} outputs, the body gives {body.OutputTypes.Length}");
            var node = c.Graph.Apply(new SequenceMapOp(body, [.. inputs.Select(i => i.Type.Kind == ValueKind.Sequence)]), [.. inputs, .. body.CaptureNodes]);
            return Items(c, node, [.. body.OutputTypes.Select(o => o with { Kind = ValueKind.Sequence })]);
        };
    }

    /// <summary>Inputs 0..required-1 and the present ones of required..count-1 (trailing optional inputs).</summary>
    private static Node[] Present(OnnxNodeContext c, int required, int count)
    {
        var result = new List<Node>();
        for (int i = 0; i < count; i++)
        {
            if (c.Input(i) is { } n) result.Add(n);
            else if (i < required) throw c.Error($"input {i} is required");
            else if (Enumerable.Range(i + 1, Math.Max(0, count - i - 1)).Any(j => c.Input(j) is not null))
                throw c.Unsupported($"absent input {i} before a present one");
            else break;
        }
        return [.. result];
    }
}
