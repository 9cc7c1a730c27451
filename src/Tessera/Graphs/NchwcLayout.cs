using Tessera.Kernels;

namespace Tessera.Graphs;

/// <summary>
/// Rewrites a (fused) float32 inference graph so its convolutions run on channel-blocked tensors (NCHWc, see
/// <see cref="NchwcConv"/>) and pass them on without converting back: a chain conv → max-pool → conv → … → global
/// average pool stays blocked end to end, with one <see cref="ToNchwcOp"/> where a plain tensor enters and one
/// <see cref="FromNchwcOp"/> where a blocked value meets an op that only knows NCHW (or is a graph output).
/// <list type="bullet">
/// <item>Conv2d / fused Conv2d with constant weights and bias, groups 1 → <see cref="NchwcConv2dOp"/> (weights packed
/// now, once); with ≤ <see cref="NchwcConv.MaxPlainInputChannels"/> input channels it reads the plain NCHW input.</item>
/// <item>Depthwise convolutions (groups = C = K) with constant weights → <see cref="NchwcDepthwiseConv2dOp"/>.</item>
/// <item>Max and average pooling of a blocked value → <see cref="NchwcMaxPoolOp"/>, <see cref="NchwcAveragePoolOp"/>.</item>
/// <item>Mean over H and W of a blocked value → <see cref="NchwcGlobalAveragePoolOp"/> (its result is plain).</item>
/// <item>Elementwise unary ops with a finite value at 0 (Relu, Sigmoid, HardSwish, Clip …) of a blocked value, and
/// Add/Sub/Mul of a blocked value with a same-channel 4-D tensor broadcast over N, H, W (residuals,
/// squeeze-and-excitation scales): the same op on the blocked tensors.</item>
/// <item>A channel concat of convolutions used only by it → <see cref="NchwcConcatConvOp"/>, each convolution
/// writing into its own blocks of the result (no copy).</item>
/// <item>Concat along channels of blocked values whose channel counts are multiples of 16 → Concat of the blocks.</item>
/// </list>
/// Everything else is copied unchanged. Results agree with the source graph within float rounding (the direct
/// convolution sums in a different order than im2col + GEMM).
/// </summary>
public static class NchwcLayout
{
    /// <summary>Whether the rewrite pays on this machine (AVX-512: one block of 16 floats per register; AVX2 + FMA: two).</summary>
    public static bool IsBeneficial => NchwcConv.IsAccelerated;

    /// <summary>
    /// A new graph computing <paramref name="outputs"/> with NCHWc convolutions; <paramref name="map"/> sends each
    /// input and each output of the source to its node in the new graph (outputs stay NCHW).
    /// </summary>
    public static Graph Apply(Graph source, IReadOnlyList<Node> outputs, out Dictionary<Node, Node> map)
    {
        var needed = Needed(outputs);
        var uses = new Dictionary<Node, int>();
        foreach (var n in needed)
            foreach (var i in n.Inputs) uses[i] = uses.GetValueOrDefault(i) + 1;
        foreach (var o in outputs) uses[o] = uses.GetValueOrDefault(o) + 1;
        var rewrite = new Rewriter(uses);
        // Nodes the outputs do not need (a fusion's leftovers) are dropped: converting them would pack their weights.
        foreach (var node in source.Nodes)
            if (node.Kind == NodeKind.Input || needed.Contains(node)) rewrite.Visit(node);
        map = [];
        foreach (var n in source.Nodes)
            if (n.Kind == NodeKind.Input) map[n] = rewrite.Plain(n);
        foreach (var o in outputs) map[o] = rewrite.Plain(o);
        return rewrite.Graph;
    }

    private static HashSet<Node> Needed(IReadOnlyList<Node> outputs)
    {
        var seen = new HashSet<Node>();
        var stack = new Stack<Node>(outputs);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!seen.Add(n)) continue;
            foreach (var i in n.Inputs) stack.Push(i);
        }
        return seen;
    }

    /// <summary>
    /// Packed weights by the constant they were packed from: a model's pooled instances (one per concurrent caller)
    /// share their initializer tensors, so they share one packing instead of holding a copy each.
    /// </summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Tensor, PackedEntry> PackCache = new();

    private sealed record PackedEntry(Tensor? Bias, object Weights);

    private static object Packed(Tensor w, Tensor? bias, Func<object> pack)
    {
        lock (PackCache)
        {
            if (PackCache.TryGetValue(w, out var hit) && ReferenceEquals(hit.Bias, bias)) return hit.Weights;
            var entry = new PackedEntry(bias, pack());
            PackCache.AddOrUpdate(w, entry);
            return entry.Weights;
        }
    }

    private sealed class Rewriter(Dictionary<Node, int> uses)
    {
        public Graph Graph { get; } = new();
        /// <summary>Converted convolutions without a residual: what a concat of them needs to compute them itself.</summary>
        private readonly Dictionary<Node, (NchwcConcatConvOp.Part Part, Node X)> _convParts = [];
        private readonly Dictionary<Node, Node> _plain = [];
        private readonly Dictionary<Node, (Node Node, int Channels)> _blocked = [];
        private readonly Dictionary<Node, Node> _sources = [];   // source node of each value, for late conversions

        public void Visit(Node node)
        {
            switch (node.Kind)
            {
                case NodeKind.Constant: _plain[node] = Graph.Constant(node.Value!, node.Name); return;
                case NodeKind.Input: _plain[node] = Graph.Input(node.Type, node.Name); return;
            }
            _sources[node] = node;
            var ins = node.Inputs;
            switch (node.Operation)
            {
                case Conv2dOp c when Depthwise(node, c.Window, ins.Count == 3 ? ins[2] : null):
                    DepthwiseConv(node, c.Window, ins.Count == 3 ? ins[2] : null, null, ConvEpilogue.None);
                    return;
                case FusedConv2dOp f when Depthwise(node, f.Window, f.HasBias ? ins[2] : null):
                    DepthwiseConv(node, f.Window, f.HasBias ? ins[2] : null, f.HasResidual ? ins[^1] : null, f.Epilogue);
                    return;
                case Conv2dOp c when Convertible(node, c.Window, ins.Count == 3 ? ins[2] : null):
                    Conv(node, c.Window, ins.Count == 3 ? ins[2] : null, null, ConvEpilogue.None);
                    return;
                case FusedConv2dOp f when Convertible(node, f.Window, f.HasBias ? ins[2] : null):
                    Conv(node, f.Window, f.HasBias ? ins[2] : null, f.HasResidual ? ins[^1] : null, f.Epilogue);
                    return;
                case Pool2dOp { IsMax: true } p when _blocked.TryGetValue(ins[0], out var bx):
                    _blocked[node] = (Graph.Apply(new NchwcMaxPoolOp(bx.Channels, p.Kernel, p.Window), bx.Node), bx.Channels);
                    return;
                case Pool2dOp { IsMax: false } p when _blocked.TryGetValue(ins[0], out var ba):
                    _blocked[node] = (Graph.Apply(new NchwcAveragePoolOp(ba.Channels, p.Kernel, p.Window, p.CountIncludePad), ba.Node), ba.Channels);
                    return;
                case MeanOp m when ins[0].Rank == 4 && _blocked.TryGetValue(ins[0], out var bm) && m.ResolveAxes(4).SequenceEqual([2, 3]):
                    _plain[node] = Graph.Apply(new NchwcGlobalAveragePoolOp(bm.Channels, m.KeepDims), bm.Node);
                    return;
                case Operation u when ins.Count == 1 && ZeroSafeUnary(u) && node.DType == DType.Float32 && _blocked.TryGetValue(ins[0], out var bu):
                    _blocked[node] = (Graph.Apply(u, bu.Node), bu.Channels);
                    return;
                case AddOp when ChannelBinary(node) is { } channels && ChannelAffine(node, channels) is { } affine:
                    _blocked[node] = (affine, channels);
                    return;
                case MulOp when ChannelBinary(node) is { } channels && ChannelScale(node, channels) is { } scaled:
                    _blocked[node] = (scaled, channels);
                    return;
                case AddOp or SubOp or MulOp when ChannelBinary(node) is { } channels:
                    _blocked[node] = (Graph.Apply(node.Operation!, ChannelOperand(ins[0], channels), ChannelOperand(ins[1], channels)), channels);
                    return;
                case ConcatOp cat when ConcatOfConvs(node, cat) is { } convs:
                    _blocked[node] = (Graph.Apply(new NchwcConcatConvOp([.. convs.Select(c => c.Part)]), [.. convs.Select(c => c.X)]),
                        convs.Sum(c => c.Part.Weights.K));
                    return;
                case ConcatOp cat when ChannelConcat(node, cat) is { } parts:
                    _blocked[node] = (Graph.Apply(new ConcatOp(1), [.. parts.Select(p => p.Node)]), parts.Sum(p => p.Channels));
                    return;
            }
            _plain[node] = Graph.Apply(node.Operation!, [.. ins.Select(Plain)]);
        }

        /// <summary>A float32 4-D convolution with constant weights (and bias) and no groups.</summary>
        private static bool Convertible(Node node, Window2d window, Node? bias) =>
            node.DType == DType.Float32 && window.Groups == 1 && node.Inputs[0].Rank == 4
            && node.Inputs[1] is { Kind: NodeKind.Constant, Rank: 4 } && node.Inputs[0].Shape[1] == node.Inputs[1].Shape[1]
            && (bias is null || bias.Kind == NodeKind.Constant);

        /// <summary>A float32 depthwise convolution (groups = C = K, one filter per channel) with constant weights (and bias).</summary>
        private static bool Depthwise(Node node, Window2d window, Node? bias) =>
            node.DType == DType.Float32 && node.Inputs[0].Rank == 4 && node.Inputs[1] is { Kind: NodeKind.Constant, Rank: 4 } w
            && window.Groups > 1 && window.Groups == node.Inputs[0].Shape[1] && w.Shape[0] == window.Groups && w.Shape[1] == 1
            && (bias is null || bias.Kind == NodeKind.Constant);

        private void DepthwiseConv(Node node, Window2d window, Node? bias, Node? residual, ConvEpilogue epilogue)
        {
            var w = node.Inputs[1].Value!;
            int c = w.Shape[0];
            var weights = (NchwcDepthwiseWeights)Packed(w, bias?.Value, () => new NchwcDepthwiseWeights(c, w.Shape[2], w.Shape[3],
                w.Contiguous().AsSpan<float>(), bias is null ? default : bias.Value!.Contiguous().AsSpan<float>()));
            Node x = Blocked(node.Inputs[0], c);
            Node[] ins = residual is null ? [x] : [x, Blocked(residual, c)];
            _blocked[node] = (Graph.Apply(new NchwcDepthwiseConv2dOp(window, weights, residual is not null, epilogue), ins), c);
        }

        private void Conv(Node node, Window2d window, Node? bias, Node? residual, ConvEpilogue epilogue)
        {
            var w = node.Inputs[1].Value!;
            int k = w.Shape[0], c = w.Shape[1];
            var weights = (NchwcWeights)Packed(w, bias?.Value, () => new NchwcWeights(k, c, w.Shape[2], w.Shape[3], w.Contiguous().AsSpan<float>(),
                bias is null ? default : bias.Value!.Contiguous().AsSpan<float>(), blockedInput: c > NchwcConv.MaxPlainInputChannels));
            var x = weights.BlockedInput ? Blocked(node.Inputs[0], c) : Plain(node.Inputs[0]);
            Node[] ins = residual is null ? [x] : [x, Blocked(residual, k)];
            _blocked[node] = (Graph.Apply(new NchwcConv2dOp(window, weights, residual is not null, epilogue), ins), k);
            if (residual is null) _convParts[node] = (new NchwcConcatConvOp.Part(window, weights, epilogue), x);
        }

        /// <summary>
        /// Elementwise ops that can run on the blocked tensor as is: f(0) must be finite, because a convolution reads
        /// the padding channels (multiplying them by zero weights, which only a NaN or infinity survives).
        /// </summary>
        private static bool ZeroSafeUnary(Operation op) => op switch
        {
            LogOp or ReciprocalOp => false,
            MathOp m => m.Function != MathFunction.Acosh,
            FloatUnaryOp or NumericUnaryOp or ClipOp => true,
            _ => false,
        };

        /// <summary>
        /// The channel count when an Add/Sub/Mul has a blocked operand and both are 4-D with the same channels and
        /// batch and spatial sizes equal or 1 (a residual, a squeeze-and-excitation scale): blocked tensors
        /// broadcast over N, H and W exactly as NCHW ones do. Else null.
        /// </summary>
        private int? ChannelBinary(Node node)
        {
            var (a, b) = (node.Inputs[0], node.Inputs[1]);
            if (node.DType != DType.Float32 || node.Rank != 4 || Rank4(a) is not { } sa || Rank4(b) is not { } sb) return null;
            if (!_blocked.ContainsKey(a) && !_blocked.ContainsKey(b)) return null;
            int c = node.Shape[1];
            if (c <= 0 || sa[1] != c || sb[1] != c) return null;
            foreach (int axis in new[] { 0, 2, 3 })
                if (!SizeOrOne(sa[axis], node.Shape[axis]) || !SizeOrOne(sb[axis], node.Shape[axis])) return null;
            return c;
        }

        /// <summary>
        /// Add(Mul(x, scale), shift) with x blocked, scale and shift per-channel constants and the Mul read only here
        /// → one <see cref="NchwcChannelAffineOp"/> (the Mul's own node stays unused); else null.
        /// </summary>
        private Node? ChannelAffine(Node add, int channels)
        {
            var (m, shift) = add.Inputs[0].Operation is MulOp ? (add.Inputs[0], add.Inputs[1]) : (add.Inputs[1], add.Inputs[0]);
            if (m.Operation is not MulOp || uses.GetValueOrDefault(m) != 1 || !PerChannelConstant(shift, channels)) return null;
            var (x, scale) = PerChannelConstant(m.Inputs[1], channels) ? (m.Inputs[0], m.Inputs[1]) : (m.Inputs[1], m.Inputs[0]);
            if (!PerChannelConstant(scale, channels) || !_blocked.TryGetValue(x, out var bx) || x.Rank != 4 || !x.Shape.AsSpan().SequenceEqual(add.Shape))
                return null;
            return Graph.Apply(new NchwcChannelAffineOp(channels, hasShift: true), bx.Node, ChannelOperand(scale, channels), ChannelOperand(shift, channels));
        }

        /// <summary>
        /// Mul of a full-size blocked x by a per-channel value ([N or 1, C, 1, 1]: a squeeze-and-excitation gate, a
        /// constant scale) → <see cref="NchwcChannelAffineOp"/> without a shift; else null. The Mul of an Add(Mul, shift) pair is
        /// built too but left unused when the Add becomes a channel affine.
        /// </summary>
        private Node? ChannelScale(Node mul, int channels)
        {
            foreach (var (x, s) in new[] { (mul.Inputs[0], mul.Inputs[1]), (mul.Inputs[1], mul.Inputs[0]) })
            {
                if (!_blocked.TryGetValue(x, out var bx) || x.Rank != 4 || !x.Shape.AsSpan().SequenceEqual(mul.Shape)) continue;
                if (Rank4(s) is not { } ss || ss[1] != channels || ss[2] != 1 || ss[3] != 1) continue;
                return Graph.Apply(new NchwcChannelAffineOp(channels, hasShift: false), bx.Node, ChannelOperand(s, channels));
            }
            return null;
        }

        private static bool PerChannelConstant(Node n, int channels) =>
            n.Kind == NodeKind.Constant && n.DType == DType.Float32 && Rank4(n) is { } s && s[0] == 1 && s[1] == channels && s[2] == 1 && s[3] == 1;

        /// <summary>
        /// A 4-D operand's shape; a constant of lower rank (a batch norm's per-channel [C, 1, 1]) as it broadcasts,
        /// with leading 1s. Else null.
        /// </summary>
        private static int[]? Rank4(Node n) =>
            n.Rank == 4 ? n.Shape
            : n.Kind == NodeKind.Constant && n.Rank < 4 ? [.. Enumerable.Repeat(1, 4 - n.Rank), .. n.Shape]
            : null;

        /// <summary>An operand of a blocked channel op: values blocked (once), constants blocked now rather than every run.</summary>
        private Node ChannelOperand(Node n, int channels)
        {
            if (_blocked.ContainsKey(n) || n.Kind != NodeKind.Constant) return Blocked(n, channels);
            var plain = n.Value!.Contiguous().Reshape(Rank4(n)!);
            var convert = new ToNchwcOp(channels);
            var blocked = Tensor.Empty(DType.Float32, convert.InferType([new TensorType(DType.Float32, plain.ShapeArray())]).Shape);
            convert.Forward([plain], blocked);
            var node = Graph.Constant(blocked, n.Name);
            _blocked[n] = (node, channels);
            return node;
        }

        private static bool SizeOrOne(int d, int full) => d == full || d == 1;

        /// <summary>
        /// The convolutions of a channel concat whose every input is a converted convolution (no residual, whole
        /// blocks) used by nothing else: one op then writes them into the joined tensor. Their own nodes stay in the
        /// new graph unused (the machine runs only what the outputs need). Else null.
        /// </summary>
        private List<(NchwcConcatConvOp.Part Part, Node X)>? ConcatOfConvs(Node node, ConcatOp cat)
        {
            if (node.Rank != 4 || ShapeMath.NormalizeAxis(cat.Axis, 4, cat.Name) != 1) return null;
            var parts = new List<(NchwcConcatConvOp.Part, Node)>();
            foreach (var i in node.Inputs)
            {
                if (uses.GetValueOrDefault(i) != 1 || !_convParts.TryGetValue(i, out var p) || p.Part.Weights.K % NchwcConv.Block != 0) return null;
                parts.Add(p);
            }
            return parts;
        }

        /// <summary>The blocked parts of a channel concat whose parts are all blocked, multiples of 16 channels; else null.</summary>
        private List<(Node Node, int Channels)>? ChannelConcat(Node node, ConcatOp cat)
        {
            if (node.Rank != 4 || ShapeMath.NormalizeAxis(cat.Axis, 4, cat.Name) != 1) return null;
            var parts = new List<(Node, int)>();
            foreach (var i in node.Inputs)
            {
                if (!_blocked.TryGetValue(i, out var b) || b.Channels % NchwcConv.Block != 0) return null;
                parts.Add(b);
            }
            return parts;
        }

        /// <summary>The node holding <paramref name="n"/>'s value in NCHW, converting a blocked value once.</summary>
        public Node Plain(Node n)
        {
            if (_plain.TryGetValue(n, out var p)) return p;
            var (b, channels) = _blocked[n];
            return _plain[n] = Graph.Apply(new FromNchwcOp(channels), b);
        }

        /// <summary>The node holding <paramref name="n"/>'s value blocked, converting a plain value once.</summary>
        private Node Blocked(Node n, int channels)
        {
            if (_blocked.TryGetValue(n, out var b)) return b.Node;
            var node = Graph.Apply(new ToNchwcOp(channels), Plain(n));
            _blocked[n] = (node, channels);
            return node;
        }
    }
}
