using System.Numerics;
using Tessera.Kernels;

namespace Tessera.Graphs;

/// <summary>Which comparison a <see cref="CompareOp"/> makes.</summary>
public enum Comparison { Equal, NotEqual, Less, LessEqual, Greater, GreaterEqual }

/// <summary>Elementwise comparison with broadcasting; the output is bool and carries no gradient.</summary>
public sealed class CompareOp(Comparison comparison) : Operation
{
    public Comparison Comparison { get; } = comparison;
    public override string Name => Comparison.ToString();

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 2);
        ExpectSameDType(inputs[0], inputs[1]);
        ExpectNumeric(inputs[0]);
        return new TensorType(DType.Bool, ShapeMath.Broadcast(inputs[0].Shape, inputs[1].Shape, Name));
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        switch (inputs[0].DType)
        {
            case DType.Float32: Run<float>(inputs[0], inputs[1], output); break;
            case DType.Float64: Run<double>(inputs[0], inputs[1], output); break;
            case DType.Int32: Run<int>(inputs[0], inputs[1], output); break;
            case DType.Int64: Run<long>(inputs[0], inputs[1], output); break;
            case DType.UInt8: Run<byte>(inputs[0], inputs[1], output); break;
            case DType.Int8: Run<sbyte>(inputs[0], inputs[1], output); break;
            case DType.Int16: Run<short>(inputs[0], inputs[1], output); break;
            case DType.UInt16: Run<ushort>(inputs[0], inputs[1], output); break;
            case DType.UInt32: Run<uint>(inputs[0], inputs[1], output); break;
            case DType.UInt64: Run<ulong>(inputs[0], inputs[1], output); break;
            default: throw new DTypeMismatchException(Name, $"dtype {inputs[0].DType.Name()} is not supported");
        }
    }

    private void Run<T>(Tensor a, Tensor b, Tensor y) where T : unmanaged, INumber<T>
    {
        switch (Comparison)
        {
            case Comparison.Equal: ElementwiseKernels.Compare<T, EqualFn<T>>(a, b, y); break;
            case Comparison.NotEqual: ElementwiseKernels.Compare<T, NotEqualFn<T>>(a, b, y); break;
            case Comparison.Less: ElementwiseKernels.Compare<T, LessFn<T>>(a, b, y); break;
            case Comparison.LessEqual: ElementwiseKernels.Compare<T, LessEqualFn<T>>(a, b, y); break;
            case Comparison.Greater: ElementwiseKernels.Compare<T, GreaterFn<T>>(a, b, y); break;
            case Comparison.GreaterEqual: ElementwiseKernels.Compare<T, GreaterEqualFn<T>>(a, b, y); break;
        }
    }

    public override Node?[] Gradient(Node output, Node gy) => [null, null];
}

/// <summary>where(cond, a, b): a where cond is true, else b, with broadcasting of all three.</summary>
public sealed class WhereOp : Operation
{
    public override string Name => "Where";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 3);
        if (inputs[0].DType != DType.Bool)
            throw new DTypeMismatchException(Name, $"the condition has dtype {inputs[0].DType.Name()}, expected bool");
        ExpectSameDType(inputs[1], inputs[2]);
        var shape = ShapeMath.Broadcast(ShapeMath.Broadcast(inputs[0].Shape, inputs[1].Shape, Name), inputs[2].Shape, Name);
        return new TensorType(inputs[1].DType, shape);
    }

    public override void Forward(ReadOnlySpan<Tensor> x, Tensor y)
    {
        switch (y.DType)
        {
            case DType.Float32: ElementwiseKernels.Where<float>(x[0], x[1], x[2], y); break;
            case DType.Float64: ElementwiseKernels.Where<double>(x[0], x[1], x[2], y); break;
            case DType.Int32: ElementwiseKernels.Where<int>(x[0], x[1], x[2], y); break;
            case DType.Int64: ElementwiseKernels.Where<long>(x[0], x[1], x[2], y); break;
            case DType.UInt8: ElementwiseKernels.Where<byte>(x[0], x[1], x[2], y); break;
            case DType.Bool: ElementwiseKernels.Where<bool>(x[0], x[1], x[2], y); break;
            case DType.Float16: ElementwiseKernels.Where<Half>(x[0], x[1], x[2], y); break;
            case DType.Int8: ElementwiseKernels.Where<sbyte>(x[0], x[1], x[2], y); break;
            case DType.Int16: ElementwiseKernels.Where<short>(x[0], x[1], x[2], y); break;
            case DType.UInt16: ElementwiseKernels.Where<ushort>(x[0], x[1], x[2], y); break;
            case DType.UInt32: ElementwiseKernels.Where<uint>(x[0], x[1], x[2], y); break;
            case DType.UInt64: ElementwiseKernels.Where<ulong>(x[0], x[1], x[2], y); break;
            case DType.BFloat16: ElementwiseKernels.Where<BFloat16>(x[0], x[1], x[2], y); break;
            default: throw new DTypeMismatchException(Name, $"dtype {y.DType.Name()} is not supported");
        }
    }

    public override Node?[] Gradient(Node output, Node gy)
    {
        Node c = output.Inputs[0], a = output.Inputs[1], b = output.Inputs[2];
        var zero = Ops.ZerosLike(gy);
        return [null, Ops.SumToShapeOf(Ops.Where(c, gy, zero), a), Ops.SumToShapeOf(Ops.Where(c, zero, gy), b)];
    }
}

/// <summary>Converts to another dtype; the gradient converts back (none flows to or from integers).</summary>
public sealed class CastOp(DType to) : Operation
{
    public DType To { get; } = to;
    public override string Name => "Cast";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        return new TensorType(To, inputs[0].Shape);
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => CastKernel.Run(inputs[0], output);

    public override Node?[] Gradient(Node output, Node gy)
    {
        var x = output.Inputs[0];
        return x.DType.IsFloatingPoint() && To.IsFloatingPoint() ? [Ops.Cast(gy, x.DType)] : [null];
    }
}

/// <summary>Zeros of the input's dtype and shape (the input's values are not read).</summary>
public sealed class ZerosLikeOp : Operation
{
    public override string Name => "ZerosLike";

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        return inputs[0];
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output) => output.Fill(0);
    public override Node?[] Gradient(Node output, Node gy) => [null];
}
