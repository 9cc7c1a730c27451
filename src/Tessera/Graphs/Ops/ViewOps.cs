namespace Tessera.Graphs;

/// <summary>Reshape to a fixed shape (one -1 allowed). A view when the input is contiguous.</summary>
public sealed class ReshapeOp(int[] shape) : Operation
{
    public int[] TargetShape { get; } = shape;
    public override string Name => "Reshape";
    public override bool IsView => true;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        if (!inputs[0].IsFullyKnown)
        {
            // Unknown input dims: only a single -1 in the target can absorb them.
            int unknown = TargetShape.Count(d => d == -1);
            if (unknown > 1) throw new ShapeMismatchException(Name, $"target {ShapeMath.Format(TargetShape)} has more than one -1");
            return new TensorType(inputs[0].DType, (int[])TargetShape.Clone());
        }
        return new TensorType(inputs[0].DType, Tensor.ResolveReshape(inputs[0].Shape, TargetShape));
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => throw new NotSupportedException();
    public override Tensor ForwardView(ReadOnlySpan<Tensor> inputs) => inputs[0].Reshape(TargetShape);
    public override Node?[] Gradient(Node output, Node gy) => [Ops.ReshapeLike(gy, output.Inputs[0])];
}

/// <summary>Reshape x to the run-time shape of a reference node (gradients of reshapes use it).</summary>
public sealed class ReshapeLikeOp : Operation
{
    public override string Name => "ReshapeLike";
    public override bool IsView => true;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 2);
        if (inputs[0].IsFullyKnown && inputs[1].IsFullyKnown && ShapeMath.Count(inputs[0].Shape) != ShapeMath.Count(inputs[1].Shape))
            throw new ShapeMismatchException(Name, $"cannot reshape {ShapeMath.Format(inputs[0].Shape)} into {ShapeMath.Format(inputs[1].Shape)}");
        return new TensorType(inputs[0].DType, inputs[1].Shape);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => throw new NotSupportedException();
    public override Tensor ForwardView(ReadOnlySpan<Tensor> inputs) => inputs[0].Reshape(inputs[1].ShapeArray());
    public override Node?[] Gradient(Node output, Node gy) => [Ops.ReshapeLike(gy, output.Inputs[0]), null];
}

/// <summary>Reorders axes (zero-copy).</summary>
public sealed class PermuteOp(int[] axes) : Operation
{
    public int[] Axes { get; } = axes;
    public override string Name => "Permute";
    public override bool IsView => true;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        var shape = inputs[0].Shape;
        if (Axes.Length != shape.Length)
            throw new ShapeMismatchException(Name, $"{Axes.Length} axes given for shape {ShapeMath.Format(shape)}");
        var result = new int[shape.Length];
        var seen = new bool[shape.Length];
        for (int i = 0; i < Axes.Length; i++)
        {
            int a = ShapeMath.NormalizeAxis(Axes[i], shape.Length, Name);
            if (seen[a]) throw new ShapeMismatchException(Name, $"axis {a} is repeated in ({string.Join(", ", Axes)})");
            seen[a] = true;
            result[i] = shape[a];
        }
        return new TensorType(inputs[0].DType, result);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => throw new NotSupportedException();
    public override Tensor ForwardView(ReadOnlySpan<Tensor> inputs) => inputs[0].Permute(Axes);

    public override Node?[] Gradient(Node output, Node gy)
    {
        int rank = Axes.Length;
        var inverse = new int[rank];
        for (int i = 0; i < rank; i++) inverse[ShapeMath.NormalizeAxis(Axes[i], rank, Name)] = i;
        // A gradient that arrives as the same permutation of a tensor (MatMulOp builds Linear's weight gradient so)
        // is that tensor itself: return it rather than a view of a view, so the result stays contiguous.
        if (gy.Operation is PermuteOp p && p.Axes.Length == rank
            && Enumerable.Range(0, rank).All(i => ShapeMath.NormalizeAxis(p.Axes[i], rank, Name) == ShapeMath.NormalizeAxis(Axes[i], rank, Name)))
            return [gy.Inputs[0]];
        return [Ops.Permute(gy, inverse)];
    }
}

/// <summary>Broadcasts to a fixed shape by NumPy rules (zero-copy, stride 0 on repeated axes).</summary>
public sealed class ExpandOp(int[] shape) : Operation
{
    public int[] TargetShape { get; } = shape;
    public override string Name => "Expand";
    public override bool IsView => true;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        var b = ShapeMath.Broadcast(inputs[0].Shape, TargetShape, Name);
        if (!b.AsSpan().SequenceEqual(TargetShape) && inputs[0].IsFullyKnown)
            throw new ShapeMismatchException(Name, $"cannot broadcast {ShapeMath.Format(inputs[0].Shape)} to {ShapeMath.Format(TargetShape)}");
        return new TensorType(inputs[0].DType, (int[])TargetShape.Clone());
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => throw new NotSupportedException();
    public override Tensor ForwardView(ReadOnlySpan<Tensor> inputs) => inputs[0].Expand(TargetShape);
    public override Node?[] Gradient(Node output, Node gy) => [Ops.SumToShapeOf(gy, output.Inputs[0])];
}

/// <summary>Broadcasts x to the run-time shape of a reference node (zero-copy); the gradient sums back.</summary>
public sealed class ExpandLikeOp : Operation
{
    public override string Name => "ExpandLike";
    public override bool IsView => true;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 2);
        var b = ShapeMath.Broadcast(inputs[0].Shape, inputs[1].Shape, Name);
        if (b.Length != inputs[1].Rank)
            throw new ShapeMismatchException(Name, $"cannot broadcast {ShapeMath.Format(inputs[0].Shape)} to {ShapeMath.Format(inputs[1].Shape)}");
        return new TensorType(inputs[0].DType, inputs[1].Shape);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => throw new NotSupportedException();

    public override Tensor ForwardView(ReadOnlySpan<Tensor> inputs)
    {
        var target = inputs[1].ShapeArray();
        var b = ShapeMath.Broadcast(inputs[0].Shape, target, Name);
        if (!b.AsSpan().SequenceEqual(target))
            throw new ShapeMismatchException(Name, $"cannot broadcast {inputs[0].ShapeString} to {inputs[1].ShapeString}");
        return inputs[0].Expand(target);
    }

    public override Node?[] Gradient(Node output, Node gy) => [Ops.SumToShapeOf(gy, output.Inputs[0]), null];
}

/// <summary>Inserts size-1 axes at the given positions of the output (zero-copy).</summary>
public sealed class UnsqueezeOp(int[] axes) : Operation
{
    public int[] Axes { get; } = axes;
    public override string Name => "Unsqueeze";
    public override bool IsView => true;

    internal static int[] Normalize(int[] axes, int rank, string op)
    {
        var set = new SortedSet<int>();
        foreach (var a in axes) set.Add(ShapeMath.NormalizeAxis(a, rank, op));
        if (set.Count != axes.Length) throw new ArgumentException($"{op}: repeated axes ({string.Join(", ", axes)}).");
        return [.. set];
    }

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        var x = inputs[0].Shape;
        int rank = x.Length + Axes.Length;
        var axes = Normalize(Axes, rank, Name);
        var result = new int[rank];
        for (int d = 0, src = 0; d < rank; d++) result[d] = Array.IndexOf(axes, d) >= 0 ? 1 : x[src++];
        return new TensorType(inputs[0].DType, result);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => throw new NotSupportedException();

    public override Tensor ForwardView(ReadOnlySpan<Tensor> inputs)
    {
        var t = inputs[0];
        foreach (var a in Normalize(Axes, t.Rank + Axes.Length, Name)) t = t.Unsqueeze(a);
        return t;
    }

    public override Node?[] Gradient(Node output, Node gy) => [Ops.Squeeze(gy, Axes.Select(a => a < 0 ? a + output.Rank : a).ToArray())];
}

/// <summary>Removes the given size-1 axes (zero-copy).</summary>
public sealed class SqueezeOp(int[] axes) : Operation
{
    public int[] Axes { get; } = axes;
    public override string Name => "Squeeze";
    public override bool IsView => true;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        var x = inputs[0].Shape;
        var axes = UnsqueezeOp.Normalize(Axes, x.Length, Name);
        var result = new List<int>();
        for (int d = 0; d < x.Length; d++)
        {
            if (Array.IndexOf(axes, d) < 0) { result.Add(x[d]); continue; }
            if (x[d] != 1 && x[d] != -1)
                throw new ShapeMismatchException(Name, $"axis {d} of {ShapeMath.Format(x)} has size {x[d]}, not 1");
        }
        return new TensorType(inputs[0].DType, [.. result]);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => throw new NotSupportedException();

    public override Tensor ForwardView(ReadOnlySpan<Tensor> inputs)
    {
        var t = inputs[0];
        var axes = UnsqueezeOp.Normalize(Axes, t.Rank, Name);
        for (int i = axes.Length - 1; i >= 0; i--) t = t.Squeeze(axes[i]);
        return t;
    }

    public override Node?[] Gradient(Node output, Node gy) =>
        [Ops.Unsqueeze(gy, UnsqueezeOp.Normalize(Axes, output.Inputs[0].Rank, Name))];
}

/// <summary>Elements start, start+step, … below end along one axis (zero-copy). Bounds clamp as in Python.</summary>
public sealed class SliceOp(int axis, int start, int end, int step) : Operation
{
    public int Axis { get; } = axis;
    public int Start { get; } = start;
    public int End { get; } = end;
    public int Step { get; } = step;
    public override string Name => "Slice";
    public override bool IsView => true;

    /// <summary>Clamped [start, end) and output length for an axis of this size.</summary>
    internal (int Start, int End, int Length) Resolve(int size)
    {
        int s = Start < 0 ? Start + size : Start, e = End < 0 ? End + size : End;
        s = Math.Clamp(s, 0, size);
        e = Math.Clamp(e, s, size);
        return (s, e, (e - s + Step - 1) / Step);
    }

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        if (Step <= 0) throw new ArgumentException($"{Name}: step must be positive, got {Step}.");
        var shape = (int[])inputs[0].Shape.Clone();
        int axis = ShapeMath.NormalizeAxis(Axis, shape.Length, Name);
        if (shape[axis] >= 0) shape[axis] = Resolve(shape[axis]).Length;
        return new TensorType(inputs[0].DType, shape);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => throw new NotSupportedException();

    public override Tensor ForwardView(ReadOnlySpan<Tensor> inputs)
    {
        int axis = ShapeMath.NormalizeAxis(Axis, inputs[0].Rank, Name);
        var (s, e, _) = Resolve(inputs[0].Shape[axis]);
        return inputs[0].Slice(axis, s, e, Step);
    }

    public override Node?[] Gradient(Node output, Node gy) =>
        [gy.Graph.Apply(new SliceGradOp(this), gy, output.Inputs[0])];
}

/// <summary>The gradient of a slice: the sliced gradient placed into zeros of the input's shape.</summary>
public sealed class SliceGradOp(SliceOp slice) : Operation
{
    public override string Name => "SliceGrad";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 2);
        return new TensorType(inputs[0].DType, inputs[1].Shape);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        output.Fill(0);
        var window = slice.ForwardView([output]);
        inputs[0].CopyTo(window);
    }

    public override Node?[] Gradient(Node output, Node gy) => [gy.Graph.Apply(slice, gy), null];
}
