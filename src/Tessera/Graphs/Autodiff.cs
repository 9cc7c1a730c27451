namespace Tessera.Graphs;

/// <summary>Reverse-mode automatic differentiation that adds gradient nodes to the graph (symbolic, as Gorgonia's Grad).</summary>
public static class Autodiff
{
    /// <summary>
    /// Nodes for ∂cost/∂w for each w in <paramref name="wrt"/>. The cost must hold one element. The gradient nodes are
    /// ordinary nodes built from registered ops, so they can be run, inspected and differentiated again.
    /// A w that the cost does not depend on gets a zero gradient.
    /// </summary>
    public static Node[] Grad(Node cost, params Node[] wrt)
    {
        var g = cost.Graph;
        if (cost.Shape.Any(d => d != 1))
            throw new ArgumentException($"Grad: the cost must be a single value; {cost.Name} has shape {ShapeMath.Format(cost.Shape)} (reduce it with Ops.Sum or Ops.Mean).");
        if (!cost.DType.IsFloatingPoint())
            throw new DTypeMismatchException("Grad", $"the cost has dtype {cost.DType.Name()}; gradients need float32 or float64");

        // Only nodes that lie on a path from some w to the cost receive gradients.
        var fromWrt = new bool[g.Nodes.Count];
        foreach (var w in wrt)
        {
            if (w.Graph != g) throw new ArgumentException($"Grad: {w.Name} belongs to another graph.");
            fromWrt[w.Id] = true;
        }
        for (int i = 0; i <= cost.Id; i++)
            if (!fromWrt[i]) foreach (var inp in g.Nodes[i].Inputs) if (fromWrt[inp.Id]) { fromWrt[i] = true; break; }

        var grads = new Dictionary<Node, Node>();
        grads[cost] = g.Constant(Tensor.Ones(cost.DType, cost.Shape), $"d{cost.Name}");
        for (int id = cost.Id; id >= 0; id--)
        {
            var node = g.Nodes[id];
            if (node.Operation is null || !fromWrt[id] || !grads.TryGetValue(node, out var gy)) continue;
            var inputGrads = node.Operation.Gradient(node, gy);
            for (int i = 0; i < node.Inputs.Count; i++)
            {
                var input = node.Inputs[i];
                var gi = inputGrads[i];
                if (gi is null || !fromWrt[input.Id] || !input.DType.IsFloatingPoint()) continue;
                grads[input] = grads.TryGetValue(input, out var acc) ? Ops.Add(acc, gi) : gi;
            }
        }
        return [.. wrt.Select(w => grads.TryGetValue(w, out var gw) ? gw : Ops.ZerosLike(w))];
    }
}
