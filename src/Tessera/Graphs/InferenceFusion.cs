using Tessera.Kernels;

namespace Tessera.Graphs;

/// <summary>
/// Rewrites an inference graph into an equivalent one with fewer steps, so each convolution's output is written
/// once and finished while it is in cache. Each rule applies only where the intermediate value has no other
/// consumer and is not a graph output:
/// <list type="bullet">
/// <item>Ops whose inputs are all constants are evaluated once (what an importer derives from initializers).</item>
/// <item>Conv2d · c and Conv2d + c, c a per-output-channel constant (a BatchNormalization the exporter did not fold,
/// imported as a multiply-add): folded into the weights and bias.</item>
/// <item>Conv2d + r, r a tensor of the convolution's shape (a residual branch): <see cref="FusedConv2dOp"/> adds r.</item>
/// <item>Relu or Clip(min, max) of a convolution (fused or not): the fused op applies it.</item>
/// <item>MatMul by a matrix, + a per-column constant (ONNX Gemm's bias), then Relu or Clip: <see cref="FusedLinearOp"/>
/// (a constant weight is packed once for the GEMM).</item>
/// <item>The importer's ten-op LayerNormalization over the last axis: <see cref="FusedLayerNormOp"/>.</item>
/// <item>PyTorch's exported GELU, (x · (erf(x / √2) + 1)) · ½ with exactly those constants: <see cref="FusedGeluOp"/>.</item>
/// <item>A reshape of a transposed view, or a product x · W of one: the view is first copied into a planned buffer
/// (<see cref="IdentityOp"/>), instead of a fresh allocation per run or one GEMM per leading index.</item>
/// </list>
/// Activations and residuals are applied with the same primitives in the same order as the separate ops, so those
/// fusions are exact; weight folding rounds differently (within float rounding of the unfused graph).
/// </summary>
/// <example><code>
/// var fused = InferenceFusion.Fuse(graph, [output], out var map);
/// using var machine = new TapeMachine(fused, map[output]);
/// </code></example>
public static class InferenceFusion
{
    /// <summary>
    /// A new graph computing <paramref name="outputs"/>; <paramref name="map"/> sends every input of the source, and
    /// each node the outputs need, to the node of the new graph holding its value. Constants are shared, not
    /// copied; other nodes the outputs do not need are dropped.
    /// </summary>
    public static Graph Fuse(Graph source, IReadOnlyList<Node> outputs, out Dictionary<Node, Node> map)
    {
        var uses = CountUses(source, outputs, out var needed);
        var g = new Graph();
        var mapped = new Dictionary<Node, Node>();
        var singleUse = new HashSet<Node>();
        var doubleUse = new HashSet<Node>();
        foreach (var node in source.Nodes)
        {
            if (!needed[node.Id]) continue;
            Node result = node.Kind switch
            {
                NodeKind.Constant => g.Constant(node.Value!, node.Name),
                NodeKind.Input => g.Input(node.Type, node.Name),
                _ => Rewrite(g, node.Operation!, [.. node.Inputs.Select(i => mapped[i])], singleUse, doubleUse),
            };
            mapped[node] = result;
            if (uses[node.Id] == 1) singleUse.Add(result);
            if (uses[node.Id] == 2) doubleUse.Add(result);   // e.g. x of x·Φ(x): read by the Div and the Mul only
        }
        map = mapped;
        return g;
    }

    /// <summary>Consumers of each node among the nodes the outputs need; each output counts as one more.</summary>
    private static int[] CountUses(Graph g, IReadOnlyList<Node> outputs, out bool[] needed)
    {
        var nodes = g.Nodes;
        needed = new bool[nodes.Count];
        foreach (var n in nodes)
            if (n.Kind == NodeKind.Input) needed[n.Id] = true;   // callers bind every declared input, used or not
        var stack = new Stack<Node>(outputs);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (n.Graph != g) throw new ArgumentException($"InferenceFusion: {n.Name} belongs to another graph.");
            if (needed[n.Id] && n.Kind != NodeKind.Input) continue;
            needed[n.Id] = true;
            foreach (var i in n.Inputs) stack.Push(i);
        }
        var uses = new int[nodes.Count];
        foreach (var n in nodes)
            if (needed[n.Id])
                foreach (var i in n.Inputs) uses[i.Id]++;
        foreach (var o in outputs) uses[o.Id]++;
        return uses;
    }

    /// <summary>A convolution still open to fusion: no activation yet; its parts as inputs of the new graph.</summary>
    private sealed record OpenConv(Window2d Window, Node X, Node W, Node? Bias, Node? Residual)
    {
        public int K => W.Shape[0];
    }

    private static OpenConv? Open(Node n, HashSet<Node> singleUse)
    {
        if (!singleUse.Contains(n) || n.DType is not (DType.Float32 or DType.Float64)) return null;
        var ins = n.Inputs;
        return n.Operation switch
        {
            Conv2dOp c => new OpenConv(c.Window, ins[0], ins[1], ins.Count == 3 ? ins[2] : null, null),
            FusedConv2dOp f when f.Epilogue.Activation == ConvActivation.None =>
                new OpenConv(f.Window, ins[0], ins[1], f.HasBias ? ins[2] : null, f.HasResidual ? ins[^1] : null),
            _ => null,
        };
    }

    /// <summary>Constant subexpressions above this many elements stay ops, so folding cannot blow up memory.</summary>
    private const long FoldLimit = 1L << 24;

    private static Node Rewrite(Graph g, Operation op, Node[] ins, HashSet<Node> singleUse, HashSet<Node> doubleUse)
    {
        if (Fold(g, op, ins) is { } constant) return constant;
        switch (op)
        {
            case ReshapeToOp or ReshapeOp or FlattenOp or BoundOp { IsView: true, Name: "Reshape" } when ins[0].Operation is PermuteOp:
                // A reshape of a transposed view (attention's heads merged back: [S, B·H, D] → [S·B, H·D]) cannot
                // be a view, and the copy Tensor.Reshape makes is a fresh allocation every run (large-object heap,
                // a GC every few runs). Copying into a planned buffer first leaves the reshape a view of it.
                ins[0] = g.Apply(new IdentityOp(), ins[0]);
                break;
            case MatMulOp when ins[1].Rank == 2 && ins[0].Operation is PermuteOp p && p.Axes.Length > 0
                && (p.Axes[^1] == -1 || p.Axes[^1] == p.Axes.Length - 1):
                // x·W with x's leading axes transposed ([S, B, D] of a batch-first input): unless the view happens
                // to be contiguous (B = 1), MatMulKernel would run one small GEMM per leading index, re-packing W
                // each time. One copy into a planned buffer lets the batch fold into a single tall GEMM. (A view
                // that moves the last axis is read as a transposed operand in place; it is left alone.)
                ins[0] = g.Apply(new IdentityOp(), ins[0]);
                break;
            case ReluOp when Open(ins[0], singleUse) is { } conv:
                return Build(g, conv, ConvEpilogue.Relu);
            case ClipOp clip when Open(ins[0], singleUse) is { } conv:
                return Build(g, conv, ConvEpilogue.Clip(clip.Min ?? double.NegativeInfinity, clip.Max ?? double.PositiveInfinity));
            case ReluOp when OpenLinear(ins[0], singleUse) is { } linear:
                return BuildLinear(g, linear, ConvEpilogue.Relu);
            case ClipOp clip when OpenLinear(ins[0], singleUse) is { } linear:
                return BuildLinear(g, linear, ConvEpilogue.Clip(clip.Min ?? double.NegativeInfinity, clip.Max ?? double.PositiveInfinity));
            case AddOp when LayerNormParts(ins, singleUse, doubleUse) is { } ln:
                return g.Apply(new FusedLayerNormOp(ln.Epsilon), ln.X, ln.Scale, ln.Bias);
            case AddOp:
                // Prefer the later convolution when both operands are one: the earlier one's value is then ready.
                foreach (int i in ins[1].Id > ins[0].Id ? [1, 0] : new[] { 0, 1 })
                {
                    if (Open(ins[i], singleUse) is not { Residual: null } conv) continue;
                    var other = ins[1 - i];
                    if (PerChannel(other, conv.K, ins[i].DType) is { } shift)
                        return Build(g, conv with { Bias = FoldedBias(g, conv, null, shift) }, ConvEpilogue.None);
                    if (other.Kind != NodeKind.Constant && other.Shape.AsSpan().SequenceEqual(ins[i].Shape))
                        return Build(g, conv with { Residual = other }, ConvEpilogue.None);
                }
                for (int i = 0; i < 2; i++)
                {
                    if (OpenLinear(ins[i], singleUse) is not { Bias: null } linear) continue;
                    if (ColumnBias(g, ins[1 - i], ins[i], linear.W.Shape[1]) is { } columnBias)
                        return BuildLinear(g, linear with { Bias = columnBias }, ConvEpilogue.None);
                }
                break;
            case MulOp when ins.Length == 2 && SiluInput(ins, singleUse) is { } siluInput:
                return g.Apply(new FusedSiluOp(), siluInput);
            case MulOp when GeluInput(ins, singleUse) is { } geluInput:
                // GELU of a linear layer (a transformer's feed-forward): in the product's epilogue when the GELU
                // pattern is the product's only reader and the rows keep erf's vector lanes (n a multiple of 8).
                if (geluInput.Operation is FusedLinearOp { Gelu: false } lin && lin.Activation.Activation == ConvActivation.None
                    && doubleUse.Contains(geluInput) && geluInput.DType == DType.Float32 && geluInput.Shape[^1] > 0 && geluInput.Shape[^1] % 8 == 0)
                    return g.Apply(new FusedLinearOp(lin.HasBias, lin.Activation, lin.ConstantWeight, gelu: true), [.. geluInput.Inputs]);
                return g.Apply(new FusedGeluOp(), geluInput);
            case MulOp:
                for (int i = 0; i < 2; i++)
                {
                    if (Open(ins[i], singleUse) is not { Residual: null } conv || conv.W.Kind != NodeKind.Constant
                        || conv.Bias is { Kind: not NodeKind.Constant }) continue;
                    if (PerChannel(ins[1 - i], conv.K, ins[i].DType) is not { } scale) continue;
                    var w = conv.W.Value!;
                    var scaled = Tensor.Empty(w.DType, w.ShapeArray());
                    int per = w.Length / conv.K;
                    for (int j = 0; j < w.Length; j++) scaled.SetDouble(j, w.GetDouble(j) * scale[j / per]);
                    return Build(g, conv with { W = g.Constant(scaled), Bias = FoldedBias(g, conv, scale, null) }, ConvEpilogue.None);
                }
                break;
        }
        return g.Apply(op, ins);
    }

    /// <summary>
    /// An op of constants only (an importer's derived constants, e.g. BatchNormalization's scale and shift, or a
    /// transposed Gemm weight) evaluated once, so a run does not recompute it and the rules above see constants.
    /// Ops without inputs (random generators) and value ops (containers, control flow) are left alone.
    /// </summary>
    private static Node? Fold(Graph g, Operation op, Node[] ins)
    {
        if (op is ValueOperation || ins.Length == 0 || ins.Any(i => i.Kind != NodeKind.Constant)) return null;
        var values = ins.Select(i => i.Value!).ToArray();
        var type = op.InferType([.. values.Select(v => new TensorType(v.DType, v.ShapeArray()))], values);
        long count = 1;
        foreach (var d in type.Shape) count *= d;
        if (count > FoldLimit) return null;
        Tensor value;
        // A view stays a view of the constant (no copy): consumers saw exactly that tensor before folding, e.g.
        // MatMul reads a transposed Gemm weight in place instead of a re-laid-out copy.
        if (op.IsView) value = op.ForwardView(values);
        else
        {
            value = Tensor.Empty(type.DType, type.Shape);
            op.Forward(values, value);
        }
        return g.Constant(value);
    }

    /// <summary>bias·scale + shift as a new constant (a missing bias is zero, a missing scale one, a missing shift zero).</summary>
    private static Node FoldedBias(Graph g, OpenConv conv, double[]? scale, double[]? shift)
    {
        var b = Tensor.Empty(conv.W.DType, conv.K);
        for (int k = 0; k < conv.K; k++)
        {
            double v = conv.Bias is null ? 0 : conv.Bias.Value!.GetDouble(k);
            b.SetDouble(k, v * (scale?[k] ?? 1) + (shift?[k] ?? 0));
        }
        return g.Constant(b);
    }

    /// <summary>
    /// The K values of a constant that broadcasts along a convolution output's channel axis only ((K,1,1),
    /// (1,K,1,1), (1,) ...), so adding or multiplying it keeps the output's shape; else null.
    /// </summary>
    private static double[]? PerChannel(Node c, int k, DType dtype)
    {
        if (c.Kind != NodeKind.Constant || c.DType != dtype || c.Rank > 4) return null;
        var t = c.Value!;
        int channels = 1;
        for (int j = 0; j < t.Rank; j++)
        {
            int axis = 4 - t.Rank + j, d = t.Shape[j];
            if (axis == 1 && d == k) channels = k;
            else if (d != 1) return null;
        }
        var v = new double[k];
        for (int i = 0; i < k; i++) v[i] = t.GetDouble(channels == 1 ? 0 : i);
        return v;
    }

    /// <summary>
    /// x when (x · (erf(x / c) + 1)) · ½ with c = √2 in float32 — PyTorch's exported GELU, <paramref name="ins"/> the
    /// operands of the last Mul — and the intermediate values have no other use; else null. Any other constant (a
    /// Div by 2, an Add of 0.5) leaves the ops alone: <see cref="FusedGeluOp"/> computes exactly this function.
    /// </summary>
    /// <summary>x of Mul(x, Sigmoid(x)) (either order) when the Sigmoid has no other reader; else null.</summary>
    private static Node? SiluInput(Node[] ins, HashSet<Node> singleUse)
    {
        for (int i = 0; i < 2; i++)
            if (ins[i].Operation is SigmoidOp && singleUse.Contains(ins[i]) && ins[i].Inputs[0] == ins[1 - i]
                && ins[i].DType is DType.Float32 or DType.Float64)
                return ins[1 - i];
        return null;
    }

    private static Node? GeluInput(Node[] ins, HashSet<Node> singleUse)
    {
        for (int i = 0; i < 2; i++)
        {
            var m = ins[i];
            if (!IsScalar(ins[1 - i], 0.5) || m.Operation is not MulOp || !singleUse.Contains(m) || m.DType != DType.Float32) continue;
            for (int j = 0; j < 2; j++)
            {
                Node x = m.Inputs[j], add = m.Inputs[1 - j];
                if (add.Operation is not AddOp || !singleUse.Contains(add)) continue;
                for (int l = 0; l < 2; l++)
                {
                    var erf = add.Inputs[l];
                    if (!IsScalar(add.Inputs[1 - l], 1) || erf.Operation is not ErfOp || !singleUse.Contains(erf)) continue;
                    var div = erf.Inputs[0];
                    if (div.Operation is DivOp && singleUse.Contains(div) && div.Inputs[0] == x && x.Rank >= 1 && IsScalar(div.Inputs[1], FusedGeluOp.Sqrt2))
                        return x;
                }
            }
        }
        return null;
    }

    /// <summary>
    /// The parts of the importer's LayerNormalization over the last axis, ins being the last Add's operands:
    /// ((x − m)·(1/√(mean((x − m)²) + ε)))·scale + bias with m = mean(x), each intermediate read only inside the chain
    /// (x − m twice); else null.
    /// </summary>
    private static (Node X, Node Scale, Node Bias, float Epsilon)? LayerNormParts(Node[] ins, HashSet<Node> singleUse, HashSet<Node> doubleUse)
    {
        Node m2 = ins[0], bias = ins[1];
        if (m2.Operation is not MulOp || !singleUse.Contains(m2) || m2.DType != DType.Float32) return null;
        Node m1 = m2.Inputs[0], scale = m2.Inputs[1];
        if (m1.Operation is not MulOp || !singleUse.Contains(m1)) return null;
        Node d = m1.Inputs[0], inv = m1.Inputs[1];
        if (d.Operation is not SubOp || !doubleUse.Contains(d)) return null;
        Node x = d.Inputs[0], mean = d.Inputs[1];
        int rank = x.Rank;
        if (rank == 0 || x.Shape[^1] <= 0 || !LastAxisMean(mean, x, rank, singleUse)) return null;
        if (inv.Operation is not ReciprocalOp || !singleUse.Contains(inv)) return null;
        var sqrt = inv.Inputs[0];
        if (sqrt.Operation is not SqrtOp || !singleUse.Contains(sqrt)) return null;
        var add = sqrt.Inputs[0];
        if (add.Operation is not AddOp || !singleUse.Contains(add)) return null;
        Node variance = add.Inputs[0], eps = add.Inputs[1];
        if (eps.Kind != NodeKind.Constant || eps.DType != DType.Float32 || eps.Value!.Length != 1 || eps.Rank > 1) return null;
        if (variance.Operation is not MeanOp || !LastAxisMean(variance, variance.Inputs[0], rank, singleUse)) return null;
        var square = variance.Inputs[0];
        if (square.Operation is not SquareOp || !singleUse.Contains(square) || square.Inputs[0] != d) return null;
        int n = x.Shape[^1];
        foreach (var v in new[] { scale, bias })
            if (v.DType != DType.Float32 || v.Rank != 1 || v.Shape[0] != n) return null;
        return (x, scale, bias, (float)eps.Value.GetDouble(0));
    }

    /// <summary>mean is ReduceMean(x) over the last axis only, keeping it, read once.</summary>
    private static bool LastAxisMean(Node mean, Node x, int rank, HashSet<Node> singleUse) =>
        mean.Operation is MeanOp { KeepDims: true } op && singleUse.Contains(mean) && mean.Inputs[0] == x
        && op.Axes is { Length: 1 } a && (a[0] == rank - 1 || a[0] == -1);

    /// <summary>A float32 constant holding one value equal to <paramref name="value"/>, of no higher rank than 1-sized broadcasting allows.</summary>
    private static bool IsScalar(Node c, double value) =>
        c.Kind == NodeKind.Constant && c.DType == DType.Float32 && c.Value!.Length == 1 && c.Rank <= 1 && c.Value.GetDouble(0) == value;

    /// <summary>A matrix product still open to fusion (no activation yet): x · w [+ bias], w a matrix.</summary>
    private sealed record OpenLinearProduct(Node X, Node W, Node? Bias);

    private static OpenLinearProduct? OpenLinear(Node n, HashSet<Node> singleUse)
    {
        if (!singleUse.Contains(n) || n.DType is not (DType.Float32 or DType.Float64)) return null;
        var ins = n.Inputs;
        return n.Operation switch
        {
            MatMulOp when ins[1].Rank == 2 => new OpenLinearProduct(ins[0], ins[1], null),
            FusedLinearOp f when f.Activation.Activation == ConvActivation.None && !f.Gelu => new OpenLinearProduct(ins[0], ins[1], f.HasBias ? ins[2] : null),
            _ => null,
        };
    }

    /// <summary>
    /// A constant that, added to <paramref name="product"/>, only adds a value per column (shape [n], [1, n], [1] ...,
    /// no higher rank than the product, so the sum keeps the product's shape) — as a new [n] constant; else null.
    /// </summary>
    private static Node? ColumnBias(Graph g, Node c, Node product, int n)
    {
        if (c.Kind != NodeKind.Constant || c.DType != product.DType || c.Rank > product.Rank || n < 0) return null;
        var t = c.Value!;
        for (int d = 0; d < t.Rank - 1; d++)
            if (t.Shape[d] != 1) return null;
        int last = t.Rank == 0 ? 1 : t.Shape[^1];
        if (last != n && last != 1) return null;
        if (t.Rank == 1 && last == n) return c;
        var b = Tensor.Empty(c.DType, n);
        for (int j = 0; j < n; j++) b.SetDouble(j, t.GetDouble(last == 1 ? 0 : j));
        return g.Constant(b);
    }

    private static Node BuildLinear(Graph g, OpenLinearProduct p, ConvEpilogue activation) =>
        g.Apply(new FusedLinearOp(p.Bias is not null, activation, constantWeight: p.W.Kind == NodeKind.Constant), p.Bias is null ? [p.X, p.W] : [p.X, p.W, p.Bias]);

    private static Node Build(Graph g, OpenConv c, ConvEpilogue epilogue)
    {
        if (c.Residual is null && epilogue.Activation == ConvActivation.None)
            return c.Bias is null ? g.Apply(new Conv2dOp(c.Window), c.X, c.W) : g.Apply(new Conv2dOp(c.Window), c.X, c.W, c.Bias);
        Node[] ins = [c.X, c.W, .. c.Bias is null ? Array.Empty<Node>() : [c.Bias], .. c.Residual is null ? Array.Empty<Node>() : [c.Residual]];
        return g.Apply(new FusedConv2dOp(c.Window, c.Bias is not null, c.Residual is not null, epilogue,
            constantWeights: c.W.Kind == NodeKind.Constant), ins);
    }
}
