using Tessera.Graphs;
using static Tessera.Graphs.Ops;

namespace Tessera.Onnx;

/// <summary>
/// If, Loop and Scan. A constant If condition inlines the chosen branch into the enclosing graph; otherwise each body
/// becomes an <see cref="OnnxSubgraph"/> held by a run-time op (<see cref="IfOp"/>, <see cref="LoopOp"/>,
/// <see cref="ScanOp"/>) that takes the enclosing values the body reads as extra inputs and returns the tuple of its
/// outputs; one <see cref="TupleItemOp"/> per ONNX output reads it. Bodies are checked at load: input and output
/// counts, loop-carried types, scan axes.
/// </summary>
public static partial class OnnxOperators
{
    private static void AddControl(Dictionary<string, OnnxOpBuilder> t)
    {
        t["If"] = c =>
        {
            var cond = c.Required(0);
            if (!cond.Type.IsTensor || cond.Type.IsFullyKnown && ShapeMath.Count(cond.Shape) != 1) throw c.Error($"cond must hold one value, is {cond.Type}");
            if (c.ConstantInput(0) is { } known) return Inline(c, known.GetDouble(0) != 0 ? "then_branch" : "else_branch");
            var then = OnnxSubgraph.Import(c, "then_branch", _ => [], -1);
            var @else = OnnxSubgraph.Import(c, "else_branch", _ => [], -1);
            if (then.OutputTypes.Length != @else.OutputTypes.Length || then.OutputTypes.Length < c.OutputCount)
                throw Malformed(c, $"then_branch has {then.OutputTypes.Length} outputs, else_branch {@else.OutputTypes.Length}, the node {c.OutputCount}");
            var types = then.OutputTypes.Select((a, i) => Merge(c, a, @else.OutputTypes[i], $"output {i} of the branches")).ToArray();
            var names = then.CaptureNames.Union(@else.CaptureNames).ToArray();
            var node = c.Graph.Apply(new IfOp(then, @else, names), [cond, .. names.Select(n => c.Scope!.Resolve(n)!)]);
            return Items(c, node, types);
        };
        t["Loop"] = c =>
        {
            Node? m = c.Input(0), cond = c.Input(1);
            if (m is not null && (!m.Type.IsTensor || !m.DType.IsInteger())) throw Malformed(c, $"M must be an integer tensor, is {m.Type}");
            if (cond is not null && !cond.Type.IsTensor) throw Malformed(c, $"cond must be a tensor, is {cond.Type}");
            var carried = Enumerable.Range(2, Math.Max(0, c.InputCount - 2))
                .Select(i => c.Input(i) ?? throw Malformed(c, $"loop-carried input {i} is absent")).ToArray();
            int n = carried.Length;
            var body = OnnxSubgraph.Import(c, "body",
                sub => [new TensorType(DType.Int64, sub.DeclaredShape(0)), new TensorType(DType.Bool, sub.DeclaredShape(1)), .. carried.Select(v => v.Type)], -1);
            var outs = body.OutputTypes;
            if (outs.Length < 1 + n) throw Malformed(c, $"body has {outs.Length} outputs, needs at least {1 + n} (cond and {n} loop-carried values)");
            if (!outs[0].IsTensor || outs[0].DType != DType.Bool) throw Malformed(c, $"body output 0 (cond) is {outs[0]}, must be a bool tensor");
            var carriedTypes = carried.Select((v, j) => MergeCarried(c, v.Type, outs[1 + j], $"loop-carried value {j} (in, out)")).ToArray();
            var scanTypes = outs[(1 + n)..];
            for (int k = 0; k < scanTypes.Length; k++)
                if (!scanTypes[k].IsTensor) throw c.Unsupported($"scan output {k} of kind {scanTypes[k]} (scan outputs are tensors)");
            if (c.OutputCount > n + scanTypes.Length) throw Malformed(c, $"the node has {c.OutputCount} outputs, the body gives {n + scanTypes.Length}");
            Node[] inputs = [.. new[] { m, cond }.OfType<Node>(), .. carried, .. body.CaptureNodes];
            var node = c.Graph.Apply(new LoopOp(body, m is not null, cond is not null, n, scanTypes), inputs);
            return Items(c, node, [.. carriedTypes, .. scanTypes.Select(s => new TensorType(s.DType, [-1, .. s.Shape]))]);
        };
        t["Scan"] = BuildScan;
    }

    private static Node[] BuildScan(OnnxNodeContext c)
    {
        int scanned = (int)c.Int("num_scan_inputs", 0);
        bool batched = c.Opset < 9;
        int first = batched ? 1 : 0;
        if (batched && c.Input(0) is not null) throw c.Unsupported("sequence_lens");
        var all = Enumerable.Range(first, Math.Max(0, c.InputCount - first)).Select(c.Required).ToArray();
        int states = all.Length - scanned;
        if (scanned < 1 || states < 0) throw Malformed(c, $"num_scan_inputs is {scanned} with {all.Length} state and scan inputs");
        if (all.Any(a => !a.Type.IsTensor)) throw Malformed(c, "every input must be a tensor");
        int[] Axes(string name, int count) => c.Int32s(name) is { } a
            ? a.Length == count ? a : throw Malformed(c, $"{name} has {a.Length} entries, expected {count}")
            : new int[count];
        var inAxes = batched ? new int[scanned] : Axes("scan_input_axes", scanned);
        var inDirs = Axes(batched ? "directions" : "scan_input_directions", scanned);
        var types = new TensorType[all.Length];
        for (int i = 0; i < all.Length; i++)
        {
            var s = all[i].Shape.ToList();
            if (batched)
            {
                if (s.Count < (i < states ? 1 : 2)) throw Malformed(c, $"input {i} of shape {ShapeMath.Format(all[i].Shape)} lacks the batch (and sequence) axes");
                s.RemoveAt(0);
            }
            if (i >= states)
            {
                int j = i - states, r = s.Count;
                if (inAxes[j] < -r || inAxes[j] >= r) throw Malformed(c, $"scan_input_axes[{j}] = {inAxes[j]} is out of range for a scan input of rank {r}");
                if (inAxes[j] < 0) inAxes[j] += r;
                s.RemoveAt(inAxes[j]);
            }
            types[i] = new TensorType(all[i].DType, [.. s]);
        }
        var body = OnnxSubgraph.Import(c, "body", _ => types, -1);
        var outs = body.OutputTypes;
        int k = outs.Length - states;
        if (k < 0) throw Malformed(c, $"body has {outs.Length} outputs, fewer than its {states} states");
        if (outs.Any(o => !o.IsTensor)) throw c.Unsupported("a body output that is not a tensor");
        var outAxes = batched ? new int[k] : Axes("scan_output_axes", k);
        var outDirs = batched ? new int[k] : Axes("scan_output_directions", k);
        int steps = batched ? all[states].Shape[1] : all[states].Shape[inAxes[0]];
        var resultTypes = new TensorType[states + k];
        for (int i = 0; i < states; i++)
        {
            var merged = Merge(c, types[i], outs[i], $"state {i} (in, out)");
            resultTypes[i] = batched ? merged with { Shape = [all[0].Shape[0], .. merged.Shape] } : merged;
        }
        for (int j = 0; j < k; j++)
        {
            int r = outs[states + j].Rank;
            if (outAxes[j] < -(r + 1) || outAxes[j] > r) throw Malformed(c, $"scan_output_axes[{j}] = {outAxes[j]} is out of range for a scan output of rank {r + 1}");
            if (outAxes[j] < 0) outAxes[j] += r + 1;
            var shape = outs[states + j].Shape.ToList();
            shape.Insert(outAxes[j], steps);
            if (batched) shape.Insert(0, all[0].Shape[0]);
            resultTypes[states + j] = new TensorType(outs[states + j].DType, [.. shape]);
        }
        if (c.OutputCount > resultTypes.Length) throw Malformed(c, $"the node has {c.OutputCount} outputs, the body gives {resultTypes.Length}");
        var op = new ScanOp(body, states, inAxes, [.. inDirs.Select(v => v != 0)], outAxes, [.. outDirs.Select(v => v != 0)], batched);
        return Items(c, c.Graph.Apply(op, [.. all, .. body.CaptureNodes]), resultTypes);
    }

    /// <summary>One node per output of a tuple-valued op, each of its declared type.</summary>
    private static Node[] Items(OnnxNodeContext c, Node tuple, TensorType[] types) =>
        [.. types.Select((type, i) => c.Graph.Apply(new TupleItemOp(i, type), tuple))];

    private static OnnxFormatException Malformed(OnnxNodeContext c, string what) =>
        new($"node '{c.Proto.Name}' ({c.OpType}, opset {c.Opset}): {what}.");

    /// <summary>
    /// The type covering both <paramref name="a"/> and <paramref name="b"/> (branch outputs, a carried value in and out):
    /// same kind and dtype required; dimensions that differ become -1; a sequence's element rank may differ.
    /// </summary>
    internal static TensorType Merge(OnnxNodeContext c, TensorType a, TensorType b, string what)
    {
        if (a.Kind != b.Kind || a.DType != b.DType) throw Malformed(c, $"{what} are of types {a} and {b}");
        if (a.IsTensor)
        {
            if (a.Rank != b.Rank) throw c.Unsupported($"{what} of different ranks ({a} and {b})");
            return a with { Shape = [.. a.Shape.Select((d, i) => d == b.Shape[i] ? d : -1)] };
        }
        return SequenceOpBase.JoinElements(a, b) with { Kind = a.Kind };
    }

    /// <summary>
    /// A loop-carried value's type: as <see cref="Merge"/>, except that an optional may come back as its content (an
    /// optional sequence that the body unwraps on the first iteration); the loop's result is then of the content's kind.
    /// </summary>
    private static TensorType MergeCarried(OnnxNodeContext c, TensorType inType, TensorType outType, string what) =>
        inType.Kind is ValueKind.Optional or ValueKind.OptionalSequence && outType.Kind == inType.Element.Kind && inType.DType == outType.DType
            ? outType
            : Merge(c, inType, outType, what);

    /// <summary>Builds the nodes of a branch straight into the enclosing graph (a constant If condition).</summary>
    private static Node[] Inline(OnnxNodeContext c, string name)
    {
        var body = c.Attribute(name)?.G ?? throw Malformed(c, $"attribute '{name}' (a graph) is required");
        if (body.Input.Count > 0) throw Malformed(c, $"{name} must take no inputs, has {body.Input.Count}");
        var scope = new OnnxScope(c.Scope!, c.Opset, c.BaseDirectory, inline: true);
        scope.AddInitializers(body);
        scope.AddNodes(body.Node);
        return [.. body.Output.Select(o => scope.Resolve(o.Name) ?? throw Malformed(c, $"{name} output '{o.Name}' is produced by no node"))];
    }
}
