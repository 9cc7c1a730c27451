using Tessera.Graphs;
using Tessera.Onnx.Proto;
using static Tessera.Graphs.Ops;

namespace Tessera.Onnx;

/// <summary>
/// If, for branches that are self-contained (they read no value of the enclosing graph). Both branches are built
/// into the enclosing graph: a constant condition keeps the chosen branch only; a run-time condition evaluates both
/// and selects with Where, which needs equal output types. Branches are pure, so evaluating the untaken one changes
/// no result, only cost. Loop and Scan (which need per-iteration subgraph runs) remain unsupported.
/// </summary>
public static partial class OnnxOperators
{
    private static void AddControl(Dictionary<string, OnnxOpBuilder> t)
    {
        t["If"] = c =>
        {
            var cond = c.Required(0);
            if (cond.Type.IsFullyKnown && ShapeMath.Count(cond.Shape) != 1) throw c.Error($"cond must hold one value, has shape {ShapeMath.Format(cond.Shape)}");
            var thenOut = Inline(c, "then_branch");
            var elseOut = Inline(c, "else_branch");
            if (thenOut.Length != elseOut.Length || thenOut.Length < c.OutputCount)
                throw c.Error($"then_branch has {thenOut.Length} outputs, else_branch {elseOut.Length}, the node {c.OutputCount}");
            if (c.ConstantInput(0) is { } known) return known.GetDouble(0) != 0 ? thenOut : elseOut;
            var scalar = Reshape(Cast(cond, DType.Bool), []);
            var outs = new Node[thenOut.Length];
            for (int i = 0; i < outs.Length; i++)
            {
                Node a = thenOut[i], b = elseOut[i];
                if (a.DType != b.DType || !a.Type.IsFullyKnown || !b.Type.IsFullyKnown || !a.Shape.AsSpan().SequenceEqual(b.Shape))
                    throw c.Unsupported($"branches whose output {i} differs in type ({a.Type} vs {b.Type}) under a run-time condition");
                outs[i] = Where(scalar, a, b);
            }
            return outs;
        };
    }

    /// <summary>Builds the nodes of graph attribute <paramref name="name"/> into the enclosing graph; returns its outputs.</summary>
    private static Node[] Inline(OnnxNodeContext c, string name)
    {
        var body = c.Attribute(name)?.G ?? throw c.Error($"attribute '{name}' (a graph) is required");
        if (body.Input.Count > 0) throw c.Error($"{name} must take no inputs, has {body.Input.Count}");
        var values = new Dictionary<string, Node>();
        foreach (var init in body.Initializer) values[init.Name] = c.Graph.Constant(OnnxTensors.ToTensor(init, c.BaseDirectory), init.Name);
        foreach (var np in body.Node)
        {
            var inputs = new Node?[np.Input.Count];
            for (int i = 0; i < inputs.Length; i++)
            {
                if (np.Input[i].Length == 0) continue;
                inputs[i] = values.TryGetValue(np.Input[i], out var v) ? v
                    : throw c.Unsupported($"{name} reading '{np.Input[i]}' from the enclosing graph");
            }
            if (!Builders.TryGetValue(Key(np.Domain, np.OpType), out var builder))
                throw c.Unsupported($"{name} using operator {np.OpType} (domain '{np.Domain}')");
            var outs = builder(new OnnxNodeContext(np, inputs, c.Opset, c.Graph, c.BaseDirectory));
            for (int i = 0; i < np.Output.Count && i < outs.Length; i++)
                if (np.Output[i].Length > 0) values[np.Output[i]] = outs[i];
        }
        return [.. body.Output.Select(o => values.TryGetValue(o.Name, out var n) ? n : throw c.Error($"{name} output '{o.Name}' is produced by no node"))];
    }
}
