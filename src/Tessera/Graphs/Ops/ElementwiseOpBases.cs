using System.Numerics;

namespace Tessera.Graphs;

/// <summary>An elementwise function of one float tensor: output has the input's type.</summary>
public abstract class FloatUnaryOp : Operation
{
    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectFloat(inputs[0]);
        return inputs[0];
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        if (output.DType == DType.Float32) Run<float>(inputs[0], output);
        else Run<double>(inputs[0], output);
    }

    protected abstract void Run<T>(Tensor x, Tensor y) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>An elementwise function of one numeric tensor (ints too): output has the input's type.</summary>
public abstract class NumericUnaryOp : Operation
{
    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 1);
        ExpectNumeric(inputs[0]);
        return inputs[0];
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        switch (output.DType)
        {
            case DType.Float32: Run<float>(inputs[0], output); break;
            case DType.Float64: Run<double>(inputs[0], output); break;
            case DType.Int32: Run<int>(inputs[0], output); break;
            case DType.Int64: Run<long>(inputs[0], output); break;
            case DType.UInt8: Run<byte>(inputs[0], output); break;
            case DType.Int8: Run<sbyte>(inputs[0], output); break;
            case DType.Int16: Run<short>(inputs[0], output); break;
            case DType.UInt16: Run<ushort>(inputs[0], output); break;
            case DType.UInt32: Run<uint>(inputs[0], output); break;
            case DType.UInt64: Run<ulong>(inputs[0], output); break;
            default: throw new DTypeMismatchException(Name, $"dtype {output.DType.Name()} is not supported");
        }
    }

    protected abstract void Run<T>(Tensor x, Tensor y) where T : unmanaged, INumber<T>;
}

/// <summary>An elementwise function of two tensors of one dtype with NumPy broadcasting.</summary>
public abstract class BinaryOp : Operation
{
    /// <summary>True when only float32/float64 are supported (pow); false allows integer dtypes.</summary>
    protected virtual bool FloatOnly => false;

    public override TensorType InferType(ReadOnlySpan<TensorType> inputs)
    {
        ExpectInputs(inputs, 2);
        ExpectSameDType(inputs[0], inputs[1]);
        if (FloatOnly) ExpectFloat(inputs[0]); else ExpectNumeric(inputs[0]);
        return new TensorType(inputs[0].DType, ShapeMath.Broadcast(inputs[0].Shape, inputs[1].Shape, Name));
    }

    public override void Forward(ReadOnlySpan<Tensor> inputs, Tensor output)
    {
        switch (output.DType)
        {
            case DType.Float32: RunFloat<float>(inputs[0], inputs[1], output); break;
            case DType.Float64: RunFloat<double>(inputs[0], inputs[1], output); break;
            case DType.Int32: Run<int>(inputs[0], inputs[1], output); break;
            case DType.Int64: Run<long>(inputs[0], inputs[1], output); break;
            case DType.UInt8: Run<byte>(inputs[0], inputs[1], output); break;
            case DType.Int8: Run<sbyte>(inputs[0], inputs[1], output); break;
            case DType.Int16: Run<short>(inputs[0], inputs[1], output); break;
            case DType.UInt16: Run<ushort>(inputs[0], inputs[1], output); break;
            case DType.UInt32: Run<uint>(inputs[0], inputs[1], output); break;
            case DType.UInt64: Run<ulong>(inputs[0], inputs[1], output); break;
            default: throw new DTypeMismatchException(Name, $"dtype {output.DType.Name()} is not supported");
        }
    }

    protected virtual void RunFloat<T>(Tensor a, Tensor b, Tensor y) where T : unmanaged, IFloatingPointIeee754<T> => Run<T>(a, b, y);
    protected abstract void Run<T>(Tensor a, Tensor b, Tensor y) where T : unmanaged, INumber<T>;
}
