using System.Numerics;
using Tessera.Kernels;

namespace Tessera.Graphs;

/// <summary>Shared axis handling for reductions: null axes mean all; negative axes count from the end.</summary>
public abstract class AxesOp(int[]? axes, bool keepDims) : Operation
{
    public int[]? Axes { get; } = axes;
    public bool KeepDims { get; } = keepDims;

    /// <summary>The reduced axes for an input of this rank: sorted, distinct, non-negative.</summary>
    public int[] ResolveAxes(int rank)
    {
        if (Axes is null) return Enumerable.Range(0, rank).ToArray();
        var set = new SortedSet<int>();
        foreach (var a in Axes)
            if (!set.Add(ShapeMath.NormalizeAxis(a, rank, Name)))
                throw new ArgumentException($"{Name}: axis {a} is repeated.");
        return [.. set];
    }

    protected int[] ReducedShape(int[] shape)
    {
        var axes = ResolveAxes(shape.Length);
        var result = new List<int>();
        for (int d = 0; d < shape.Length; d++)
        {
            if (Array.IndexOf(axes, d) < 0) result.Add(shape[d]);
            else if (KeepDims) result.Add(1);
        }
        return [.. result];
    }

    /// <summary>The output gradient with the reduced axes restored as size 1, broadcast to the input's shape.</summary>
    protected Node ExpandBack(Node reduced, Node input) =>
        Ops.ExpandLike(KeepDims ? reduced : Ops.Unsqueeze(reduced, ResolveAxes(input.Rank)), input);
}

/// <summary>Sum, max, min or product over axes.</summary>
public sealed class ReduceOp(ReduceKind kind, int[]? axes, bool keepDims) : AxesOp(axes, keepDims)
{
    public ReduceKind Kind { get; } = kind;
    public override string Name => "Reduce" + Kind;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectNumeric(inputs[0]);
        if (Kind is ReduceKind.Max or ReduceKind.Min)
            foreach (var a in ResolveAxes(inputs[0].Rank))
                if (inputs[0].Shape[a] == 0)
                    throw new ShapeMismatchException(Name, $"axis {a} of {ShapeMath.Format(inputs[0].Shape)} is empty and has no {Kind.ToString().ToLowerInvariant()}");
        return new TensorType(inputs[0].DType, ReducedShape(inputs[0].Shape));
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var axes = ResolveAxes(inputs[0].Rank);
        switch (output.DType)
        {
            case DType.Float32: ReduceKernels.Reduce<float>(inputs[0], axes, Kind, output); break;
            case DType.Float64: ReduceKernels.Reduce<double>(inputs[0], axes, Kind, output); break;
            case DType.Int32: ReduceKernels.Reduce<int>(inputs[0], axes, Kind, output); break;
            case DType.Int64: ReduceKernels.Reduce<long>(inputs[0], axes, Kind, output); break;
            case DType.UInt8: ReduceKernels.Reduce<byte>(inputs[0], axes, Kind, output); break;
            case DType.Int8: ReduceKernels.Reduce<sbyte>(inputs[0], axes, Kind, output); break;
            case DType.Int16: ReduceKernels.Reduce<short>(inputs[0], axes, Kind, output); break;
            case DType.UInt16: ReduceKernels.Reduce<ushort>(inputs[0], axes, Kind, output); break;
            case DType.UInt32: ReduceKernels.Reduce<uint>(inputs[0], axes, Kind, output); break;
            case DType.UInt64: ReduceKernels.Reduce<ulong>(inputs[0], axes, Kind, output); break;
            default: throw new DTypeMismatchException(Name, $"dtype {inputs[0].DType.Name()} is not supported");
        }
    }

    public override Node?[] Gradient(Node output, Node gy)
    {
        var x = output.Inputs[0];
        switch (Kind)
        {
            case ReduceKind.Sum:
                return [ExpandBack(gy, x)];
            case ReduceKind.Prod:
                return [Ops.Div(ExpandBack(Ops.Mul(gy, output), x), x)];
            default:
                // The gradient is shared equally among the positions that attain the max (min), as torch.amax does.
                var mask = Ops.Cast(Ops.Equal(x, ExpandBack(output, x)), x.DType);
                var ties = Ops.ExpandLike(Ops.Sum(mask, ResolveAxes(x.Rank), keepDims: true), x);
                return [Ops.Mul(Ops.Div(mask, ties), ExpandBack(gy, x))];
        }
    }
}

/// <summary>Arithmetic mean over axes.</summary>
public sealed class MeanOp(int[]? axes, bool keepDims) : AxesOp(axes, keepDims)
{
    public override string Name => "ReduceMean";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectFloat(inputs[0]);
        return new TensorType(inputs[0].DType, ReducedShape(inputs[0].Shape));
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var axes = ResolveAxes(inputs[0].Rank);
        double count = 1;
        foreach (var a in axes) count *= inputs[0].Shape[a];
        if (output.DType == DType.Float32) Run<float>(inputs[0], axes, count, output);
        else Run<double>(inputs[0], axes, count, output);
    }

    private static void Run<T>(Tensor x, int[] axes, double count, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ReduceKernels.Reduce<T>(x, axes, ReduceKind.Sum, y);
        System.Numerics.Tensors.TensorPrimitives.Multiply(y.AsSpan<T>(), T.One / T.CreateTruncating(count), y.AsSpan<T>());
    }

    public override Node?[] Gradient(Node output, Node gy)
    {
        var x = output.Inputs[0];
        return [Ops.Div(ExpandBack(gy, x), Ops.ReducedCount(x, ResolveAxes(x.Rank)))];
    }
}

/// <summary>log Σ exp(x) over axes, shifted by the max so it neither overflows nor underflows.</summary>
public sealed class LogSumExpOp(int[]? axes, bool keepDims) : AxesOp(axes, keepDims)
{
    public override string Name => "ReduceLogSumExp";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectFloat(inputs[0]);
        return new TensorType(inputs[0].DType, ReducedShape(inputs[0].Shape));
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        if (output.DType == DType.Float32) Run<float>(inputs[0], output);
        else Run<double>(inputs[0], output);
    }

    private void Run<T>(Tensor x, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var axes = ResolveAxes(x.Rank);
        var keptShape = x.ShapeArray();
        foreach (var a in axes) keptShape[a] = 1;
        using var max = Tensor.Empty(x.DType, keptShape);
        ReduceKernels.Reduce<T>(x, axes, ReduceKind.Max, max);
        var ms = max.AsSpan<T>();
        for (int i = 0; i < ms.Length; i++) if (T.IsInfinity(ms[i])) ms[i] = T.Zero;
        using var shifted = Tensor.Empty(x.DType, x.ShapeArray());
        ElementwiseKernels.Binary<T, SubFn<T>>(x, max, shifted);
        ElementwiseKernels.Unary<T, ExpFn<T>>(shifted, shifted);
        ReduceKernels.Reduce<T>(shifted, axes, ReduceKind.Sum, y);
        var ys = y.AsSpan<T>();
        for (int i = 0; i < ys.Length; i++) ys[i] = T.Log(ys[i]) + ms[i];
    }

    public override Node?[] Gradient(Node output, Node gy)
    {
        var x = output.Inputs[0];
        return [Ops.Mul(ExpandBack(gy, x), Ops.Exp(Ops.Sub(x, ExpandBack(output, x))))];
    }
}

/// <summary>Index of the largest element along one axis (int64); not differentiable.</summary>
public sealed class ArgMaxOp(int axis, bool keepDims) : AxesOp([axis], keepDims)
{
    public override string Name => "ArgMax";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectNumeric(inputs[0]);
        return new TensorType(DType.Int64, ReducedShape(inputs[0].Shape));
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        int axis = ResolveAxes(inputs[0].Rank)[0];
        switch (inputs[0].DType)
        {
            case DType.Float32: ReduceKernels.ArgMax<float>(inputs[0], axis, output); break;
            case DType.Float64: ReduceKernels.ArgMax<double>(inputs[0], axis, output); break;
            case DType.Int32: ReduceKernels.ArgMax<int>(inputs[0], axis, output); break;
            case DType.Int64: ReduceKernels.ArgMax<long>(inputs[0], axis, output); break;
            case DType.UInt8: ReduceKernels.ArgMax<byte>(inputs[0], axis, output); break;
            case DType.Int8: ReduceKernels.ArgMax<sbyte>(inputs[0], axis, output); break;
            case DType.Int16: ReduceKernels.ArgMax<short>(inputs[0], axis, output); break;
            case DType.UInt16: ReduceKernels.ArgMax<ushort>(inputs[0], axis, output); break;
            case DType.UInt32: ReduceKernels.ArgMax<uint>(inputs[0], axis, output); break;
            case DType.UInt64: ReduceKernels.ArgMax<ulong>(inputs[0], axis, output); break;
            default: throw new DTypeMismatchException(Name, $"dtype {inputs[0].DType.Name()} is not supported");
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => [null];
}

/// <summary>The number of elements the given axes of x span, as a scalar of x's dtype (for mean gradients).</summary>
public sealed class ReducedCountOp(int[] axes) : Operation
{
    public override string Name => "ReducedCount";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs) => new(inputs[0].DType, []);

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        double count = 1;
        foreach (var a in axes) count *= inputs[0].Shape[a];
        output.SetDouble(0, count);
    }

    public override Node?[] Gradient(Node output, Node gy) => [null];
}

/// <summary>
/// Sums x down to the shape of a reference node (undoing NumPy broadcasting): leading axes are summed away and
/// axes where the reference has size 1 are summed with keepdims. Its gradient broadcasts back.
/// </summary>
public sealed class SumToShapeOfOp : Operation
{
    public override string Name => "SumToShapeOf";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 2);
        var target = inputs[1].Shape;
        if (ShapeMath.TryBroadcast(inputs[0].Shape, target) is not { } b || b.Length != inputs[0].Rank)
            throw new ShapeMismatchException(Name, $"{ShapeMath.Format(inputs[0].Shape)} cannot be summed to {ShapeMath.Format(target)}");
        return new TensorType(inputs[0].DType, target);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        var x = inputs[0];
        int lead = x.Rank - output.Rank;
        var axes = new List<int>();
        for (int d = 0; d < x.Rank; d++)
            if (d < lead || (output.Shape[d - lead] == 1 && x.Shape[d] != 1)) axes.Add(d);
        switch (output.DType)
        {
            case DType.Float32: ReduceKernels.Reduce<float>(x, [.. axes], ReduceKind.Sum, output); break;
            case DType.Float64: ReduceKernels.Reduce<double>(x, [.. axes], ReduceKind.Sum, output); break;
            case DType.Int32: ReduceKernels.Reduce<int>(x, [.. axes], ReduceKind.Sum, output); break;
            case DType.Int64: ReduceKernels.Reduce<long>(x, [.. axes], ReduceKind.Sum, output); break;
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => [Ops.ExpandLike(gy, output.Inputs[0]), null];
}
