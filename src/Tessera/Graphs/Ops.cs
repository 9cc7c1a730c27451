using Tessera.Kernels;

namespace Tessera.Graphs;

/// <summary>
/// The graph-building functions (Gorgonia's <c>Add</c>, <c>Mul</c>, ...). Each builds a node through the op
/// registry; nothing is computed until a machine runs. <c>using static Tessera.Graphs.Ops;</c> reads like Gorgonia.
/// </summary>
public static class Ops
{
    // ---- elementwise arithmetic (NumPy broadcasting) ----------------------------------------------------------
    public static Node Add(Node a, Node b) => a.Graph.Apply(new AddOp(), a, b);
    public static Node Sub(Node a, Node b) => a.Graph.Apply(new SubOp(), a, b);
    public static Node Mul(Node a, Node b) => a.Graph.Apply(new MulOp(), a, b);
    public static Node Div(Node a, Node b) => a.Graph.Apply(new DivOp(), a, b);
    public static Node Pow(Node a, Node b) => a.Graph.Apply(new PowOp(), a, b);
    public static Node Maximum(Node a, Node b) => a.Graph.Apply(new MaximumOp(), a, b);
    public static Node Minimum(Node a, Node b) => a.Graph.Apply(new MinimumOp(), a, b);

    // ---- elementwise functions --------------------------------------------------------------------------------
    public static Node Neg(Node x) => x.Graph.Apply(new NegOp(), x);
    public static Node Abs(Node x) => x.Graph.Apply(new AbsOp(), x);
    public static Node Square(Node x) => x.Graph.Apply(new SquareOp(), x);
    public static Node Exp(Node x) => x.Graph.Apply(new ExpOp(), x);
    public static Node Log(Node x) => x.Graph.Apply(new LogOp(), x);
    public static Node Sqrt(Node x) => x.Graph.Apply(new SqrtOp(), x);
    public static Node Reciprocal(Node x) => x.Graph.Apply(new ReciprocalOp(), x);
    public static Node Tanh(Node x) => x.Graph.Apply(new TanhOp(), x);
    public static Node Sigmoid(Node x) => x.Graph.Apply(new SigmoidOp(), x);
    public static Node Relu(Node x) => x.Graph.Apply(new ReluOp(), x);
    /// <summary>ReLU's backward pass: gy where x &gt; 0, else 0.</summary>
    public static Node ReluGrad(Node gy, Node x) => gy.Graph.Apply(new ReluGradOp(), gy, x);
    public static Node LeakyRelu(Node x, double alpha = 0.01) => x.Graph.Apply(new LeakyReluOp(alpha), x);
    public static Node Sin(Node x) => x.Graph.Apply(new SinOp(), x);
    public static Node Cos(Node x) => x.Graph.Apply(new CosOp(), x);
    public static Node Softplus(Node x) => x.Graph.Apply(new SoftplusOp(), x);
    public static Node Erf(Node x) => x.Graph.Apply(new ErfOp(), x);
    public static Node Sign(Node x) => x.Graph.Apply(new SignOp(), x);
    /// <summary>1 where x &gt; 0, else 0.</summary>
    public static Node Step(Node x) => x.Graph.Apply(new StepOp(), x);

    /// <summary>GELU, exact form x·Φ(x) = x·(1 + erf(x/√2))/2 (PyTorch's default).</summary>
    public static Node Gelu(Node x) => Mul(x * 0.5, Erf(x * (1 / Math.Sqrt(2))) + 1.0);

    // ---- comparison and selection -----------------------------------------------------------------------------
    public static Node Equal(Node a, Node b) => a.Graph.Apply(new CompareOp(Comparison.Equal), a, b);
    public static Node NotEqual(Node a, Node b) => a.Graph.Apply(new CompareOp(Comparison.NotEqual), a, b);
    public static Node Less(Node a, Node b) => a.Graph.Apply(new CompareOp(Comparison.Less), a, b);
    public static Node LessEqual(Node a, Node b) => a.Graph.Apply(new CompareOp(Comparison.LessEqual), a, b);
    public static Node Greater(Node a, Node b) => a.Graph.Apply(new CompareOp(Comparison.Greater), a, b);
    public static Node GreaterEqual(Node a, Node b) => a.Graph.Apply(new CompareOp(Comparison.GreaterEqual), a, b);
    public static Node Where(Node cond, Node a, Node b) => a.Graph.Apply(new WhereOp(), cond, a, b);
    public static Node Cast(Node x, DType to) => x.DType == to ? x : x.Graph.Apply(new CastOp(to), x);
    public static Node ZerosLike(Node x) => x.Graph.Apply(new ZerosLikeOp(), x);

    // ---- reductions (axes null = all axes) ---------------------------------------------------------------------
    public static Node Sum(Node x, int[]? axes = null, bool keepDims = false) => x.Graph.Apply(new ReduceOp(ReduceKind.Sum, axes, keepDims), x);
    public static Node Max(Node x, int[]? axes = null, bool keepDims = false) => x.Graph.Apply(new ReduceOp(ReduceKind.Max, axes, keepDims), x);
    public static Node Min(Node x, int[]? axes = null, bool keepDims = false) => x.Graph.Apply(new ReduceOp(ReduceKind.Min, axes, keepDims), x);
    public static Node Prod(Node x, int[]? axes = null, bool keepDims = false) => x.Graph.Apply(new ReduceOp(ReduceKind.Prod, axes, keepDims), x);
    public static Node Mean(Node x, int[]? axes = null, bool keepDims = false) => x.Graph.Apply(new MeanOp(axes, keepDims), x);
    public static Node LogSumExp(Node x, int[]? axes = null, bool keepDims = false) => x.Graph.Apply(new LogSumExpOp(axes, keepDims), x);
    public static Node ArgMax(Node x, int axis, bool keepDims = false) => x.Graph.Apply(new ArgMaxOp(axis, keepDims), x);
    public static Node Softmax(Node x, int axis = -1) => x.Graph.Apply(new SoftmaxOp(axis, log: false), x);
    public static Node LogSoftmax(Node x, int axis = -1) => x.Graph.Apply(new SoftmaxOp(axis, log: true), x);

    /// <summary>Number of elements spanned by <paramref name="axes"/> of x at run time, as a scalar of x's dtype.</summary>
    public static Node ReducedCount(Node x, int[] axes) => x.Graph.Apply(new ReducedCountOp(axes), x);

    /// <summary>Sums x down to the shape of <paramref name="like"/> (undoes broadcasting); x itself when shapes already agree.</summary>
    public static Node SumToShapeOf(Node x, Node like) =>
        x.Type.IsFullyKnown && like.Type.IsFullyKnown && x.Shape.AsSpan().SequenceEqual(like.Shape)
            ? x
            : x.Graph.Apply(new SumToShapeOfOp(), x, like);

    // ---- linear algebra -----------------------------------------------------------------------------------------

    /// <summary>NumPy matmul: batched over leading axes with broadcasting; 1-D operands are lifted and the added axis removed.</summary>
    public static Node MatMul(Node a, Node b)
    {
        if (a.Rank == 0 || b.Rank == 0)
            throw new ShapeMismatchException("MatMul", $"operands {ShapeMath.Format(a.Shape)} and {ShapeMath.Format(b.Shape)} must not be scalars");
        bool va = a.Rank == 1, vb = b.Rank == 1;
        var a2 = va ? Unsqueeze(a, [0]) : a;
        var b2 = vb ? Unsqueeze(b, [-1]) : b;
        var y = a.Graph.Apply(new MatMulOp(), a2, b2);
        if (va && vb) return Squeeze(y, [-2, -1]);
        if (va) return Squeeze(y, [-2]);
        if (vb) return Squeeze(y, [-1]);
        return y;
    }

    // ---- shape and data movement -------------------------------------------------------------------------------
    public static Node Reshape(Node x, params int[] shape) => x.Graph.Apply(new ReshapeOp(shape), x);
    public static Node ReshapeLike(Node x, Node like) => x.Graph.Apply(new ReshapeLikeOp(), x, like);
    public static Node Permute(Node x, params int[] axes) => x.Graph.Apply(new PermuteOp(axes), x);

    /// <summary>Swaps the last two axes (matrix transpose); a vector is returned unchanged.</summary>
    public static Node Transpose(Node x)
    {
        if (x.Rank < 2) return x;
        var perm = Enumerable.Range(0, x.Rank).ToArray();
        (perm[^1], perm[^2]) = (perm[^2], perm[^1]);
        return Permute(x, perm);
    }

    public static Node Expand(Node x, params int[] shape) => x.Graph.Apply(new ExpandOp(shape), x);
    public static Node ExpandLike(Node x, Node like) => x.Graph.Apply(new ExpandLikeOp(), x, like);
    public static Node Unsqueeze(Node x, params int[] axes) => x.Graph.Apply(new UnsqueezeOp(axes), x);
    public static Node Squeeze(Node x, params int[] axes) => x.Graph.Apply(new SqueezeOp(axes), x);
    public static Node Flatten(Node x) => Reshape(x, x.Shape.Length == 0 ? 1 : x.Shape[0], -1);
    public static Node Slice(Node x, int axis, int start, int end, int step = 1) => x.Graph.Apply(new SliceOp(axis, start, end, step), x);
    public static Node Concat(int axis, params Node[] xs) => xs[0].Graph.Apply(new ConcatOp(axis), xs);

    /// <summary>Splits x along an axis into pieces of the given sizes.</summary>
    public static Node[] Split(Node x, int axis, params int[] sizes)
    {
        var pieces = new Node[sizes.Length];
        int offset = 0;
        for (int i = 0; i < sizes.Length; i++)
        {
            pieces[i] = Slice(x, axis, offset, offset + sizes[i]);
            offset += sizes[i];
        }
        return pieces;
    }

    public static Node Gather(Node x, Node indices, int axis = 0) => x.Graph.Apply(new GatherOp(axis), x, indices);
    public static Node Pad(Node x, int[] pads, double value = 0) => x.Graph.Apply(new PadOp(pads, value), x);

    // ---- convolution and pooling (NCHW) ------------------------------------------------------------------------

    /// <summary>2-D convolution. Pads are [top, left, bottom, right] (or [h, w] for symmetric).</summary>
    public static Node Conv2d(Node x, Node w, Node? bias = null, int[]? strides = null, int[]? pads = null, int[]? dilations = null, int groups = 1)
    {
        var op = new Conv2dOp(Window2d.Create(strides, pads, dilations, groups));
        return bias is null ? x.Graph.Apply(op, x, w) : x.Graph.Apply(op, x, w, bias);
    }

    public static Node MaxPool2d(Node x, int[] kernel, int[]? strides = null, int[]? pads = null) =>
        x.Graph.Apply(new Pool2dOp(true, kernel, Window2d.Create(strides ?? kernel, pads, null), false), x);

    public static Node AvgPool2d(Node x, int[] kernel, int[]? strides = null, int[]? pads = null, bool countIncludePad = false) =>
        x.Graph.Apply(new Pool2dOp(false, kernel, Window2d.Create(strides ?? kernel, pads, null), countIncludePad), x);

    /// <summary>Mean over the spatial axes: (N, C, H, W) → (N, C).</summary>
    public static Node GlobalAvgPool2d(Node x) => Mean(x, [2, 3]);

    // ---- randomness and encoding -------------------------------------------------------------------------------

    /// <summary>Inverted dropout: x ⊙ mask with a fresh mask per run (see <see cref="DropoutMaskOp"/>).</summary>
    public static Node Dropout(Node x, double p, int seed) =>
        p == 0 ? x : Mul(x, x.Graph.Apply(new DropoutMaskOp(p, seed), x));

    public static Node OneHot(Node indices, int classes, DType dtype = DType.Float32) =>
        indices.Graph.Apply(new OneHotOp(classes, dtype), indices);
}
