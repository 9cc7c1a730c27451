namespace Tessera.Graphs;

/// <summary>
/// ONNX Reshape: a target shape where 0 copies the input's dimension (unless <see cref="AllowZero"/>) and one -1 is
/// inferred. A view when the input is contiguous.
/// </summary>
public sealed class ReshapeToOp(long[] target, bool allowZero) : Operation
{
    public long[] Target { get; } = target;
    public bool AllowZero { get; } = allowZero;
    public override string Name => "Reshape";
    public override bool IsView => true;

    private int[] Resolve(int[] x)
    {
        var shape = new int[Target.Length];
        for (int i = 0; i < shape.Length; i++)
        {
            long t = Target[i];
            if (t == 0 && !AllowZero)
            {
                if (i >= x.Length) throw new ShapeMismatchException(Name, $"target ({string.Join(", ", Target)}) copies dimension {i} of {ShapeMath.Format(x)}, which has no such dimension");
                shape[i] = x[i];
            }
            else if (t < -1 || t > int.MaxValue) throw new ShapeMismatchException(Name, $"target ({string.Join(", ", Target)}) has an invalid dimension {t}");
            else shape[i] = (int)t;
        }
        return shape;
    }

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        var x = inputs[0].Shape;
        var shape = Resolve(x);
        if (!inputs[0].IsFullyKnown) return new TensorType(inputs[0].DType, [.. shape.Select((d, i) => d)]);
        return new TensorType(inputs[0].DType, Tensor.ResolveReshape(x, shape));
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => throw new NotSupportedException();
    public override Tensor ForwardView(ReadOnlySpan<Tensor> inputs) => inputs[0].Reshape(Resolve(inputs[0].ShapeArray()));
    public override Node?[] Gradient(Node output, Node gy) => [Ops.ReshapeLike(gy, output.Inputs[0])];
}

/// <summary>Broadcasts x together with a shape (ONNX Expand: the result is the broadcast of both; zero-copy).</summary>
public sealed class BroadcastToOp(int[] shape) : Operation
{
    public int[] TargetShape { get; } = shape;
    public override string Name => "Expand";
    public override bool IsView => true;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        if (TargetShape.Any(d => d < 0)) throw new ShapeMismatchException(Name, $"shape {ShapeMath.Format(TargetShape)} has a negative dimension");
        return new TensorType(inputs[0].DType, ShapeMath.Broadcast(inputs[0].Shape, TargetShape, Name));
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => throw new NotSupportedException();
    public override Tensor ForwardView(ReadOnlySpan<Tensor> inputs) => inputs[0].Expand(ShapeMath.Broadcast(inputs[0].Shape, TargetShape, Name));
    public override Node?[] Gradient(Node output, Node gy) => [Ops.SumToShapeOf(gy, output.Inputs[0])];
}

/// <summary>ONNX Flatten: axes before <see cref="Axis"/> become the rows, the rest the columns (a view when contiguous).</summary>
public sealed class FlattenOp(int axis) : Operation
{
    public int Axis { get; } = axis;
    public override string Name => "Flatten";
    public override bool IsView => true;

    private int[] Target(int[] x)
    {
        int a = Axis < 0 ? Axis + x.Length : Axis;
        if (a < 0 || a > x.Length) throw new ArgumentOutOfRangeException(nameof(axis), $"{Name}: axis {Axis} is out of range for rank {x.Length}.");
        long rows = 1, cols = 1;
        for (int d = 0; d < x.Length; d++)
        {
            if (x[d] < 0) { if (d < a) rows = -1; else cols = -1; continue; }
            if (d < a) { if (rows >= 0) rows *= x[d]; } else if (cols >= 0) cols *= x[d];
        }
        return [(int)rows, (int)cols];
    }

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        return new TensorType(inputs[0].DType, Target(inputs[0].Shape));
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => throw new NotSupportedException();
    public override Tensor ForwardView(ReadOnlySpan<Tensor> inputs) => inputs[0].Reshape(Target(inputs[0].ShapeArray()));
    public override Node?[] Gradient(Node output, Node gy) => [Ops.ReshapeLike(gy, output.Inputs[0])];
}

/// <summary>A copy of the input (ONNX Identity where a fresh buffer is needed).</summary>
public sealed class IdentityOp : Operation
{
    public override string Name => "Identity";
    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) { ExpectInputs(inputs, 1); return inputs[0]; }
    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => inputs[0].CopyTo(output);
    public override Node?[] Gradient(Node output, Node gy) => [gy];
}
